"""Direct Cross-Modal Alignment (MR-COSMO Eq. 1-7, 14)."""

from query3d.model.alignment.constraints import AlignmentConstraints, symmetric_cross_entropy
from query3d.model.alignment.dcma import DCMA, AlignedFeatures, ImageEvidence
from query3d.model.alignment.direct import BidirectionalDirectAlignment

__all__ = [
    "DCMA",
    "AlignedFeatures",
    "AlignmentConstraints",
    "BidirectionalDirectAlignment",
    "ImageEvidence",
    "symmetric_cross_entropy",
]
