"""Training loop with hooks, DDP plumbing, optimiser and schedule."""

from query3d.training.trainer.distributed import (
    DistContext,
    cleanup_distributed,
    gather_objects,
    gather_with_grad,
    init_distributed,
)
from query3d.training.trainer.hooks import (
    CheckpointHook,
    EvalHook,
    Hook,
    JsonlHook,
    ProgressHook,
    TensorBoardHook,
)
from query3d.training.trainer.optim import WarmupCosine, build_optimizer, build_scheduler
from query3d.training.trainer.sampler import ResumableSampler
from query3d.training.trainer.trainer import Trainer, default_hooks, list_collate

__all__ = [
    "CheckpointHook", "DistContext", "EvalHook", "Hook", "JsonlHook", "ProgressHook",
    "ResumableSampler", "TensorBoardHook", "Trainer", "WarmupCosine", "build_optimizer",
    "build_scheduler", "cleanup_distributed", "default_hooks", "gather_objects",
    "gather_with_grad", "init_distributed", "list_collate",
]
