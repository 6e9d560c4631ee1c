"""Training, data and augmentation sections (plain data, see ``query3d.config``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

VIEW_POLICIES = ("skip", "rotate_camera")


@dataclass
class TrainConfig:
    """Optimiser and schedule (MR-COSMO Implementation Details: AdamW, cosine, 1% warm-up)."""

    epochs: int = 30
    batch_size: int = 4  # global: split evenly over the torchrun processes
    lr: float = 0.002
    weight_decay: float = 0.005
    warmup_fraction: float = 0.01
    final_lr_factor: float = 0.0  # cosine ends at lr * final_lr_factor
    grad_clip: float = 1.0  # max gradient norm; 0 = no clipping
    amp: bool = True  # mixed precision, CUDA only
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    num_workers: int = 0
    log_every: int = 10  # steps between logged scalars
    eval_every: int = 1  # epochs between validations; 0 = never
    eval_max_samples: int = 0  # validate on the first N val samples; 0 = all
    init_from: str = ""  # checkpoint whose weights start this run (fine-tuning); "" = none
    # train on N samples (scene groups with queries_per_scene > 1) spread evenly; 0 = all
    train_max_samples: int = 0
    # >1: a step's entries are scenes with up to this many of their queries each; the
    # scene is augmented, preprocessed and encoded once, its queries answered from it
    queries_per_scene: int = 1
    checkpoint_every: int = 0  # steps between mid-epoch last.pt saves; 0 = per epoch
    best_metric: str = "miou"  # validation key that decides best.pt (higher is better)
    deterministic: bool = False  # deterministic kernels: bit-exact reruns and resumes
    ddp_find_unused: bool = True  # DDP: tolerate branches unused in a step (no images)

    def __post_init__(self) -> None:
        if self.queries_per_scene < 1:
            raise ValueError(f"queries_per_scene must be >= 1, got {self.queries_per_scene}")


@dataclass
class AugmentConfig:
    """Label-preserving training augmentations, applied in this order: crop, point
    dropout, rotation about z, uniform scaling, jitter, colour jitter
    (``query3d.training.data.augment``)."""

    enabled: bool = True
    rotate_z: bool = True
    max_angle: float = math.pi  # radians either way; pi = any heading
    scale_range: float = 0.1  # factor drawn from [1 - r, 1 + r]
    jitter_sigma: float = 0.002  # metres
    jitter_clip: float = 0.01
    color_jitter: float = 0.05
    point_dropout: float = 0.1
    crop_size: float | None = None  # metres; None = no cropping
    # view-dependent queries (left/right, nearest to the camera): skip their rotation, or
    # rotate_camera: turn the cameras with the cloud so the relation stays true
    view_dependent: str = "skip"  # skip | rotate_camera

    def __post_init__(self) -> None:
        if self.view_dependent not in VIEW_POLICIES:
            raise ValueError(f"view_dependent must be one of {VIEW_POLICIES}, got "
                             f"{self.view_dependent!r}")
        if not 0 <= self.scale_range < 1:
            raise ValueError(f"scale_range must be in [0, 1), got {self.scale_range}")


@dataclass
class DataSource:
    """A further split trained on beside the main one (e.g. real scans with written
    queries next to synthetic scenes); ``repeat`` times per epoch."""

    kind: str = "mosd"
    root: str = ""
    split: str = "train"
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise ValueError(f"repeat must be >= 1, got {self.repeat}")


@dataclass
class DataConfig:
    """Which data, at which density, augmented how."""

    kind: str = "tabletop"  # tabletop | room | scanrefer | multi3drefer | osd
    root: str = ""
    train_split: str = "train"
    val_split: str = "val"
    # points per scene, drawn once at load (the runtime draws the same way); the
    # checkpoint records it as the density a served network runs at
    max_points: int = 20000
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    mix: list[DataSource] = field(default_factory=list)  # further training splits
