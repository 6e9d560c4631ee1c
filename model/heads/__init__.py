"""Detection head, language-guided query selection and the iterative mask classifier."""

from query3d.model.heads.detection import DetectionHead
from query3d.model.heads.mask import MaskHead, soft_box_log_gate
from query3d.model.heads.query_selection import LanguageGuidedSelection, SelectedQueries
from query3d.model.heads.semantic import (
    CLASS_PROMPTS,
    SemanticHead,
    class_embeddings_from_prompts,
    class_prompts,
    embed_class_names,
    parse_class_list,
)
from query3d.model.heads.slot_scorer import (
    SlotScorer,
    colour_histogram,
    phrase_evidence,
    slot_evidence,
)
from query3d.model.heads.superpoint_tokens import (
    SuperpointPooling,
    SuperpointStats,
    SuperpointTokens,
    pool_superpoints,
)

__all__ = [
    "CLASS_PROMPTS",
    "SemanticHead",
    "SlotScorer",
    "SuperpointStats",
    "class_embeddings_from_prompts",
    "class_prompts",
    "embed_class_names",
    "parse_class_list",
    "colour_histogram",
    "phrase_evidence",
    "pool_superpoints",
    "slot_evidence",
    "DetectionHead",
    "LanguageGuidedSelection",
    "MaskHead",
    "SelectedQueries",
    "SuperpointPooling",
    "SuperpointTokens",
    "soft_box_log_gate",
]
