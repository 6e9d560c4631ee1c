"""Multi-scale Transformer encoder-decoder and the blocks it is made of."""

from query3d.model.decoder.layers import (
    AttentionBlock,
    FeedForwardBlock,
    FourierPosition,
    MultiHeadAttention,
)
from query3d.model.decoder.transformer import MultiScaleEncoder, QueryDecoder, ScaleIndex

__all__ = [
    "AttentionBlock",
    "FeedForwardBlock",
    "FourierPosition",
    "MultiHeadAttention",
    "MultiScaleEncoder",
    "QueryDecoder",
    "ScaleIndex",
]
