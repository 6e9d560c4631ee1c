"""What the network answers for one query: zero, one or many targets.

Plain numpy dataclasses so the ROS node, the CLI and evaluation read results without
touching tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TargetResult:
    """One referred-to object: its points (indices into the input cloud) and its box."""

    target_id: int  # stable within one result: 0..T-1 ordered by score
    point_indices: np.ndarray  # (M,) int64 indices into the input cloud
    point_scores: np.ndarray  # (M,) float32 mask probabilities of those points
    box_center: np.ndarray  # (3,) metres, input cloud frame
    box_size: np.ndarray  # (3,) full extent
    box_yaw: float  # radians about the cloud frame's z axis
    score: float  # "referred-to" probability of the detection slot
    label: str = ""  # most likely category name


@dataclass
class QueryResult:
    text: str
    num_points: int
    targets: list[TargetResult] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def no_target(self) -> bool:
        """True when nothing in the scene matches the query (generalised RES)."""
        return len(self.targets) == 0

    def instance_mask(self) -> np.ndarray:
        """(N,) int32: target_id per input point, -1 where no target claims it.

        Where two targets claim a point, the higher-scoring point mask wins.
        """
        out = np.full(self.num_points, -1, dtype=np.int32)
        best = np.zeros(self.num_points, dtype=np.float32)
        for t in self.targets:
            take = t.point_scores > best[t.point_indices]
            idx = t.point_indices[take]
            out[idx] = t.target_id
            best[idx] = t.point_scores[take]
        return out

    def union_mask(self) -> np.ndarray:
        """(N,) bool: points that belong to any target."""
        return self.instance_mask() >= 0

    def summary(self) -> dict:
        """JSON-ready digest (no per-point arrays) for CLIs, logs and the ROS result topic."""
        return {
            "command": self.text,
            "num_points": int(self.num_points),
            "no_target": self.no_target,
            "targets": [
                {
                    "target_id": int(t.target_id),
                    "label": t.label,
                    "score": float(t.score),
                    "num_points": int(len(t.point_indices)),
                    "box_center": [float(v) for v in t.box_center],
                    "box_size": [float(v) for v in t.box_size],
                    "box_yaw": float(t.box_yaw),
                }
                for t in self.targets
            ],
            "timings_ms": {k: float(v) for k, v in self.timings_ms.items()},
        }


@dataclass
class SemanticResult:
    """Open-vocabulary labels of a cloud: one of ``classes`` per input point."""

    classes: list[str]
    labels: np.ndarray  # (N,) int64 index into classes; -1 for points that were not finite
    scores: np.ndarray  # (N,) float32 probability of the label among the classes (0 at -1)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def num_points(self) -> int:
        return len(self.labels)

    def points_per_class(self) -> dict[str, int]:
        counts = np.bincount(self.labels[self.labels >= 0], minlength=len(self.classes))
        return {name: int(count) for name, count in zip(self.classes, counts)}

    def summary(self) -> dict:
        """JSON-ready digest (no per-point arrays) for CLIs, logs and the ROS legend."""
        return {
            "classes": list(self.classes),
            "num_points": self.num_points,
            "points_per_class": self.points_per_class(),
            "unlabelled_points": int(np.sum(self.labels < 0)),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
