"""Training and data configuration sections (plain data, see ``query3d.config``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    """Optimiser and schedule (MR-COSMO Implementation Details: AdamW, cosine, 1% warm-up)."""

    epochs: int = 30
    batch_size: int = 4
    lr: float = 0.002
    weight_decay: float = 0.005
    warmup_fraction: float = 0.01
    grad_clip: float = 1.0
    amp: bool = True  # mixed precision, CUDA only
    seed: int = 0
    num_workers: int = 0
    log_every: int = 10
    eval_every: int = 1


@dataclass
class DataConfig:
    """Which data and how it is augmented."""

    kind: str = "tabletop"  # tabletop | room | scanrefer | multi3drefer | osd
    root: str = ""
    max_points: int = 20000
    augment: bool = True
    rotate_z: bool = True
    scale_range: float = 0.1
    jitter_sigma: float = 0.002
    color_jitter: float = 0.05
    point_dropout: float = 0.1
