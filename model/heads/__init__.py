"""Detection head, language-guided query selection and the iterative mask classifier."""

from query3d.model.heads.detection import DetectionHead
from query3d.model.heads.mask import MaskHead, soft_box_log_gate
from query3d.model.heads.query_selection import LanguageGuidedSelection, SelectedQueries
from query3d.model.heads.superpoint_tokens import SuperpointPooling, SuperpointTokens

__all__ = [
    "DetectionHead",
    "LanguageGuidedSelection",
    "MaskHead",
    "SelectedQueries",
    "SuperpointPooling",
    "SuperpointTokens",
    "soft_box_log_gate",
]
