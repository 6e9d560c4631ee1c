"""From a dataset of ``Sample``s to what one training forward needs.

Augmentation draws from a generator seeded by (seed, epoch, index), never from a global
RNG, so a sample looks the same whichever process or worker loads it and whether or not
the run was resumed; that is what makes resumed and multi-process runs reproducible.
Preprocessing (kNN, voxels, windows, FPS, camera projections) runs here, in the loader
workers, not in the training step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from query3d.config import Config
from query3d.data.sample import Sample
from query3d.model.losses import QueryTargets
from query3d.model.preprocess import FrameInputs, prepare_frame
from query3d.model.runtime.density import network_subset
from query3d.training.data.augment import augment_scene, take_points
from query3d.training.trainer.groups import SceneGroups, spread_indices

SYNTHETIC_KINDS = ("tabletop", "room")
REFER_KINDS = ("scanrefer", "multi3drefer")


def open_split(kind: str, root: str | Path, split: str, max_points: int = 0
               ) -> Sequence[Sample]:
    """The samples of ``split`` under ``root`` for a ``data.kind``.

    Synthetic data: the folder ``query3d data`` wrote; ``max_points`` > 0 subsamples each
    scene once, deterministically, at load time (the same cloud for training and
    evaluation, and cheaper than preprocessing the full cloud). ScanRefer / Multi3DRefer: the
    3D-STMN layout, ``ScanRefer/ScanRefer_filtered_{split}.json`` or
    ``Multi3DRefer/multi3drefer_{split}.json`` beside ``scannetv2/{split}/*_refer.pth``.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"data folder {root} does not exist")
    if kind in SYNTHETIC_KINDS:
        from query3d.training.data.synthetic.dataset import SyntheticDataset

        if not (root / split).is_dir():
            raise ValueError(f"{kind} data under {root} has no split {split!r} "
                             f"(found: {', '.join(sorted(p.name for p in root.iterdir()))})")
        return SyntheticDataset(root, split, max_points=max_points or None)
    if kind in REFER_KINDS:
        from query3d.training.data.readers import ReferDataset, read_multi3drefer, read_scanrefer

        if kind == "scanrefer":
            ann, read = root / "ScanRefer" / f"ScanRefer_filtered_{split}.json", read_scanrefer
        else:
            ann, read = root / "Multi3DRefer" / f"multi3drefer_{split}.json", read_multi3drefer
        if not ann.is_file():
            raise ValueError(f"{kind} split {split!r}: annotation file {ann} is missing")
        return ReferDataset(read(ann), root / "scannetv2" / split)
    if kind == "osd":  # evaluation only: 8 real scans with 20 written queries
        from query3d.training.data.readers.osd_refer import OSDReferDataset

        return OSDReferDataset(root, max_points=max_points)
    if kind == "mosd":  # 45 real scans, 237 written queries, split by scan (train / val)
        from query3d.training.data.readers.osd_refer import MOSD_QUERIES, OSDReferDataset

        return OSDReferDataset(root, MOSD_QUERIES, max_points=max_points, split=split)
    if kind == "mosd-generated":  # the query sampler run on the mOSD scans' own objects
        from query3d.training.data.readers.mosd_generated import generated_records
        from query3d.training.data.readers.osd_refer import OSDReferDataset

        return OSDReferDataset(root, generated_records(root, split), max_points=max_points,
                               split=split)
    if kind == "mosd-composite":  # train objects set down on other train scans' tables
        from query3d.training.data.readers.mosd_composite import CompositeDataset

        return CompositeDataset(root, split, max_points=max_points)
    known = SYNTHETIC_KINDS + REFER_KINDS + ("mosd", "mosd-generated", "mosd-composite")
    raise ValueError(f"data.kind {kind!r} cannot be trained on; choose one of "
                     f"{', '.join(known)} (or osd for evaluation)")


@dataclass
class TrainItem:
    """One sample ready for a forward: ``index`` orders it globally within the epoch."""

    index: int
    sample: Sample
    frame: FrameInputs
    targets: QueryTargets


def prepare_sample(sample: Sample, cfg: Config, rng: np.random.Generator | None
                   ) -> tuple[Sample, FrameInputs, QueryTargets]:
    """Augment (when ``rng`` is given), cap the point count, preprocess, build targets."""
    samples, frame, targets = prepare_scene([sample], cfg, rng)
    return samples[0], frame, targets[0]


def prepare_scene(samples: Sequence[Sample], cfg: Config, rng: np.random.Generator | None
                  ) -> tuple[list[Sample], FrameInputs, list[QueryTargets]]:
    """``prepare_sample`` for several queries of one scene: one augmentation, one point
    cap draw and one preprocessing, shared; targets per query."""
    if rng is not None and cfg.data.augment.enabled:
        samples = augment_scene(samples, rng, cfg.data.augment)
    scene = samples[0].scene
    n, cap = len(scene.points), cfg.data.max_points
    if cap > 0 and n > cap:  # evaluation draws the runtime's subset, training a fresh one
        keep = (network_subset(n, cap) if rng is None
                else np.sort(rng.choice(n, size=cap, replace=False)))
        scene = take_points(scene, keep)
    samples = [Sample(scene, s.query) for s in samples]
    names = list(scene.class_names)
    if len(names) > cfg.model.num_classes:
        raise ValueError(f"scene {scene.scene_id} has {len(names)} classes but "
                         f"model.num_classes is {cfg.model.num_classes}")
    frame = prepare_frame(scene.points, scene.colors, cfg.model, cameras=scene.cameras or None)
    origin = frame.origin.numpy()
    return samples, frame, [QueryTargets.from_sample(s, origin, names) for s in samples]


class TrainingSet:
    """Augmented, preprocessed view of a dataset; ``set_epoch`` changes the draws.

    With ``train.queries_per_scene`` > 1 an entry is a group of queries of one scene
    (``SceneGroups``) and yields a list of ``TrainItem`` sharing one frame."""

    def __init__(self, samples: Sequence[Sample], cfg: Config, train: bool = True) -> None:
        self.samples, self.cfg, self.train = samples, cfg, train
        self.epoch = 0
        per_scene = cfg.train.queries_per_scene if train else 1
        self.groups = None
        if per_scene > 1:  # train_max_samples then counts scene groups, spread evenly
            groups = SceneGroups(samples, per_scene)
            self.groups = [groups[i] for i in spread_indices(len(groups),
                                                             cfg.train.train_max_samples)]

    def __len__(self) -> int:
        return len(self.samples) if self.groups is None else len(self.groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rng(self, index: int) -> np.random.Generator | None:
        if not self.train:
            return None
        return np.random.default_rng([self.cfg.train.seed, self.epoch, index])

    def __getitem__(self, index: int) -> TrainItem | list[TrainItem]:
        if self.groups is None:
            sample, frame, targets = prepare_sample(self.samples[index], self.cfg,
                                                    self._rng(index))
            return TrainItem(index, sample, frame, targets)
        members = self.groups[index]
        samples, frame, targets = prepare_scene([self.samples[i] for i in members], self.cfg,
                                                self._rng(index))
        return [TrainItem(i, s, frame, t) for i, s, t in zip(members, samples, targets)]
