"""Memory Module for feature pairs (MR-COSMO Eq. 8-11, Fig. 3b)."""

from query3d.model.memory.bank import MemoryBank, category_balanced_weights
from query3d.model.memory.recall import MemoryRecall

__all__ = ["MemoryBank", "MemoryRecall", "category_balanced_weights"]
