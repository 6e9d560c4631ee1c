"""Losses: Hungarian matching, Eq. 12-17 and the objective over a batch."""

from query3d.model.losses.matching import MatchCosts, hungarian_match, match_cost_matrix
from query3d.model.losses.objective import LossOutput, MemoryItems, MRCosmoLoss, box_vector
from query3d.model.losses.targets import QueryTargets
from query3d.model.losses.terms import (
    binary_cross_entropy,
    dice_loss,
    smooth_l1,
    weighted_cross_entropy,
)

__all__ = [
    "LossOutput",
    "MRCosmoLoss",
    "MatchCosts",
    "MemoryItems",
    "QueryTargets",
    "binary_cross_entropy",
    "box_vector",
    "dice_loss",
    "hungarian_match",
    "match_cost_matrix",
    "smooth_l1",
    "weighted_cross_entropy",
]
