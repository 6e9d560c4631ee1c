"""MR-COSMO encoders: f_point, f_voxel (sparse-conv stem + shifted-window transformer),
f_image (ResNet) and f_txt (local Hugging Face text model)."""

from .cloud import PointCloudEncoder, PointCloudFeatures, stem_point_inputs
from .gather import gather_rows, masked_mean, valid_mask
from .image import ImageEncoder, gather_pixel_features
from .point import PointMLP
from .sparse_conv import SubmanifoldConv3d, make_submanifold_conv, spconv_tensor
from .text import TextEncoder, TextFeatures
from .voxel_stem import SubmanifoldBlock, VoxelStem
from .voxel_transformer import VoxelTransformer, WindowAttentionLayer

__all__ = [
    "ImageEncoder",
    "PointCloudEncoder",
    "PointCloudFeatures",
    "PointMLP",
    "SubmanifoldBlock",
    "SubmanifoldConv3d",
    "TextEncoder",
    "TextFeatures",
    "VoxelStem",
    "VoxelTransformer",
    "WindowAttentionLayer",
    "gather_pixel_features",
    "gather_rows",
    "make_submanifold_conv",
    "masked_mean",
    "spconv_tensor",
    "stem_point_inputs",
    "valid_mask",
]
