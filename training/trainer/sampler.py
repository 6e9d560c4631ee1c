"""A DistributedSampler that can start an epoch part-way through.

The order of an epoch depends only on (seed, epoch), never on the global RNG, and a
resumed run skips exactly the samples the interrupted run already consumed on this rank.
A single process uses the same sampler with one replica, so one process and N processes
see the same global batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

from torch.utils.data import DistributedSampler


class ResumableSampler(DistributedSampler):
    def __init__(self, dataset: Sized, num_replicas: int, rank: int, shuffle: bool,
                 seed: int, drop_last: bool = False) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle,
                         seed=seed, drop_last=drop_last)
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Choose the epoch's order; ``skip`` samples of this rank's share are dropped."""
        super().set_epoch(epoch)
        if skip < 0:
            raise ValueError(f"skip must be >= 0, got {skip}")
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.skip:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.skip)
