"""Process-group plumbing for ``torchrun`` runs (single process runs skip all of it).

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; we pick NCCL on CUDA and gloo on CPU.
Two collectives are ours: a gather that passes gradients back (the DCMA contrastive loss
sees every rank's image-text pairs, as one process would on the global batch) and an
object gather for the small per-step records (memory-bank candidates, eval records).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

# The gather-with-gradient runs its all_reduce inside backward, while DDP's reducer is
# all-reducing gradient buckets on the default group; ranks whose graphs differ (another
# number of targets) could interleave the two differently, so it gets its own group.
_GRAD_GROUP: Any = None


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes (if any) and choose this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for but torch sees no CUDA device")
    dev = torch.device("cuda", local) if device == "cuda" else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend, device_id=dev if dev.type == "cuda" else None)
        global _GRAD_GROUP
        _GRAD_GROUP = dist.new_group(backend=backend)
    return DistContext(rank, world, local, dev)


def cleanup_distributed() -> None:
    global _GRAD_GROUP
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _GRAD_GROUP = None


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for this rank's slice.

    Every rank computes the same loss on the gathered tensor, so the true gradient of a
    local row is the sum over ranks; DDP then divides by the world size, which makes the
    result equal to one process holding the whole batch.
    """

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.rows = dist.get_rank(_GRAD_GROUP), tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(_GRAD_GROUP))]
        dist.all_gather(parts, tensor.contiguous(), group=_GRAD_GROUP)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=_GRAD_GROUP)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate equal-shaped tensors of all ranks along dim 0 (rank order), keeping
    gradients; identity in a single process. Every rank must call it, and the input
    must require grad on every rank, or the backward all_reduce waits forever."""
    if world_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (picklable data, small)."""
    if world_size() == 1:
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics drift apart because each
    rank normalises its own samples; memory banks are already equal)."""
    if world_size() == 1:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a (detached) tensor over ranks, for logging the global batch's losses."""
    if world_size() == 1:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / world_size()
