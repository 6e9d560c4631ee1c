"""State-space sequence models behind one interface (DCMA, MR-COSMO Eq. 5-6).

``SSM_REGISTRY`` maps ``cfg.ssm`` to a class: ``lti`` is Eq. 5-6 with learnable D x D
matrices, ``mamba`` is a selective scan (mamba-ssm's fused CUDA kernel where it imports,
the pure-torch reference otherwise). ``BidirectionalSSM`` runs a forward and a backward
model over the same short sequence.
"""

from query3d.model.ssm.base import SSM_REGISTRY, SequenceModel, build_ssm
from query3d.model.ssm.bidirectional import BidirectionalSSM
from query3d.model.ssm.lti import LTISSM
from query3d.model.ssm.selective import (
    SelectiveSSM,
    mamba_selective_scan,
    selective_scan_reference,
)

__all__ = [
    "SSM_REGISTRY",
    "BidirectionalSSM",
    "LTISSM",
    "SelectiveSSM",
    "SequenceModel",
    "build_ssm",
    "mamba_selective_scan",
    "selective_scan_reference",
]
