"""Training targets of one query, in the frame's (centred) coordinates and point order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class QueryTargets:
    """T targets of one query; T == 0 for a zero-target query.

    masks (T, N) bool over the frame's points; boxes in the frame's centred coordinates;
    classes (T,) int64 index into the class list, -1 where unknown (ignored by WCE).
    """

    masks: torch.Tensor
    box_center: torch.Tensor
    box_size: torch.Tensor
    box_yaw: torch.Tensor
    classes: torch.Tensor

    def __post_init__(self) -> None:
        t = self.masks.shape[0]
        if self.masks.dim() != 2:
            raise ValueError(f"target masks must be (T, N), got {tuple(self.masks.shape)}")
        for name, shape in (
            ("box_center", (t, 3)),
            ("box_size", (t, 3)),
            ("box_yaw", (t,)),
            ("classes", (t,)),
        ):
            if tuple(getattr(self, name).shape) != shape:
                raise ValueError(
                    f"target {name} must be {shape}, got {tuple(getattr(self, name).shape)}"
                )

    @property
    def num_targets(self) -> int:
        return self.masks.shape[0]

    @classmethod
    def from_sample(
        cls,
        sample: object,
        origin: np.ndarray | torch.Tensor,
        class_names: list[str],
        point_index: np.ndarray | None = None,
    ) -> QueryTargets:
        """Targets of a ``training.data.sample.Sample``.

        ``origin`` is what preprocessing subtracted from the coordinates; ``point_index``
        maps the frame's points to the scene's points when preprocessing kept a subset.
        """
        scene, query = sample.scene, sample.query  # type: ignore[attr-defined]
        if scene.instance is None:
            raise ValueError(f"scene {scene.scene_id} has no instance labels to train on")
        instance = scene.instance if point_index is None else scene.instance[point_index]
        origin = np.asarray(origin, dtype=np.float32).reshape(3)
        masks, centers, sizes, yaws, classes = [], [], [], [], []
        for object_id in query.object_ids:
            obj = scene.object(object_id)
            masks.append(instance == object_id)
            centers.append(np.asarray(obj.center, dtype=np.float32) - origin)
            sizes.append(np.asarray(obj.size, dtype=np.float32))
            yaws.append(float(obj.yaw))
            classes.append(class_names.index(obj.category) if obj.category in class_names else -1)
        n = len(instance)
        return cls(
            masks=torch.from_numpy(np.asarray(masks, dtype=bool).reshape(-1, n)),
            box_center=torch.tensor(np.asarray(centers, dtype=np.float32).reshape(-1, 3)),
            box_size=torch.tensor(np.asarray(sizes, dtype=np.float32).reshape(-1, 3)),
            box_yaw=torch.tensor(yaws, dtype=torch.float32),
            classes=torch.tensor(classes, dtype=torch.long),
        )
