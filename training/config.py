"""Training and data configuration sections (plain data, see ``query3d.config``)."""

from __future__ import annotations

from dataclasses import dataclass


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
    train_max_samples: int = 0  # train on N samples spread evenly over the split; 0 = all
    checkpoint_every: int = 0  # steps between mid-epoch last.pt saves; 0 = per epoch
    best_metric: str = "miou"  # validation key that decides best.pt (higher is better)
    deterministic: bool = False  # deterministic kernels: bit-exact reruns and resumes
    ddp_find_unused: bool = True  # DDP: tolerate branches unused in a step (no images)


@dataclass
class DataConfig:
    """Which data and how it is augmented."""

    kind: str = "tabletop"  # tabletop | room | scanrefer | multi3drefer | osd
    root: str = ""
    train_split: str = "train"
    val_split: str = "val"
    max_points: int = 20000
    augment: bool = True
    rotate_z: bool = True
    scale_range: float = 0.1
    jitter_sigma: float = 0.002
    color_jitter: float = 0.05
    point_dropout: float = 0.1
    crop_size: float | None = None  # metres; None = no cropping
    view_dependent: str = "skip"  # skip | rotate_camera: left/right stay true
