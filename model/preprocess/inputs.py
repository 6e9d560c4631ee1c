"""``FrameInputs``: the named tensors one point cloud hands to the frame graph.

Everything the network needs that involves searching, sorting or hashing lives here as
integer index tensors, so the graph itself is only gathers, matmuls and attention (ONNX /
TensorRT with a dynamic point count). Pad convention: an index equal to the number of rows
of the indexed table means "missing"; consumers append one zero row before gathering.

Per-scale fields are lists ordered like ``ModelConfig.voxel_scales`` (index 0 = finest);
``as_dict`` flattens them to ``<name>_<scale index>`` so an exporter gets a flat, ordered
list of graph inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

PER_SCALE_FIELDS = ("voxel_coords", "voxel_center", "point2voxel", "voxel_members")
IMAGE_FIELDS = ("images", "pix_uv", "pix_valid")
SUPERPOINT_FIELDS = ("superpoint", "superpoint_members")


@dataclass
class FrameInputs:
    """One preprocessed frame. Shapes: N points, V_s voxels at scale s, C cameras."""

    xyz: torch.Tensor  # (N, 3) float32, cloud coordinates minus ``origin``
    origin: torch.Tensor  # (3,) float32, bounding-box centre subtracted from the cloud
    rgb: torch.Tensor  # (N, 3) float32 in [0, 1]; zeros when the cloud has no colour
    knn: torch.Tensor  # (N, k) int64, k nearest other points; pad N when N <= k
    voxel_coords: list[torch.Tensor]  # per scale (V_s, 3) int64 integer grid coordinates
    voxel_center: list[torch.Tensor]  # per scale (V_s, 3) float32, centred frame
    point2voxel: list[torch.Tensor]  # per scale (N,) int64
    voxel_members: list[torch.Tensor]  # per scale (V_s, M) int64, pad N
    kmap: torch.Tensor  # (V_0, 27) int64 submanifold 3x3x3 kernel map, pad V_0
    win_groups: torch.Tensor  # (G, P) int64 finest voxels per attention group, pad V_0
    win_inverse: torch.Tensor  # (V_0,) int64 flat slot g * P + p of each voxel in win_groups
    win_groups_shifted: torch.Tensor  # (G', P) int64, windows shifted by half a window
    win_inverse_shifted: torch.Tensor  # (V_0,) int64
    seeds: torch.Tensor  # (S,) int64 farthest-point-sampled point indices
    images: torch.Tensor | None = None  # (C, 3, H, W) float32, ImageNet-normalised
    pix_uv: torch.Tensor | None = None  # (N, C, 2) float32 in [-1, 1] (grid_sample x, y)
    pix_valid: torch.Tensor | None = None  # (N, C) bool: in view, in front, not occluded
    superpoint: torch.Tensor | None = None  # (N,) int64 superpoint of every point
    superpoint_members: torch.Tensor | None = None  # (S, M) int64 member points, pad N

    @property
    def num_points(self) -> int:
        return int(self.xyz.shape[0])

    @property
    def num_scales(self) -> int:
        return len(self.voxel_coords)

    @property
    def has_images(self) -> bool:
        return self.images is not None

    @property
    def has_superpoints(self) -> bool:
        return self.superpoint is not None

    @staticmethod
    def tensor_names(num_scales: int, with_images: bool,
                     with_superpoints: bool = False) -> list[str]:
        """The flat, ordered input names of a frame graph (ONNX ``input_names``)."""
        names: list[str] = []
        for f in fields(FrameInputs):
            if f.name in PER_SCALE_FIELDS:
                names += [f"{f.name}_{s}" for s in range(num_scales)]
            elif f.name in IMAGE_FIELDS:
                if with_images:
                    names.append(f.name)
            elif f.name in SUPERPOINT_FIELDS:
                if with_superpoints:
                    names.append(f.name)
            else:
                names.append(f.name)
        return names

    def names(self) -> list[str]:
        return self.tensor_names(self.num_scales, self.has_images, self.has_superpoints)

    def as_dict(self) -> dict[str, torch.Tensor]:
        """Flat name -> tensor, in ``names()`` order."""
        out: dict[str, torch.Tensor] = {}
        for name in self.names():
            stem, _, index = name.rpartition("_")
            if stem in PER_SCALE_FIELDS:
                out[name] = getattr(self, stem)[int(index)]
            else:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, tensors: dict[str, torch.Tensor]) -> FrameInputs:
        """Inverse of ``as_dict`` (e.g. inside an exported wrapper's forward)."""
        num_scales = sum(1 for n in tensors if n.startswith("voxel_coords_"))
        if num_scales == 0:
            raise ValueError("frame tensors have no voxel_coords_<s> entries")
        expected = cls.tensor_names(num_scales, "images" in tensors, "superpoint" in tensors)
        missing = [n for n in expected if n not in tensors]
        if missing:
            raise ValueError(f"frame tensors are missing {missing}")
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            if f.name in PER_SCALE_FIELDS:
                kwargs[f.name] = [tensors[f"{f.name}_{s}"] for s in range(num_scales)]
            elif f.name in tensors:
                kwargs[f.name] = tensors[f.name]
        return cls(**kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_flat(cls, names: list[str], tensors: list[torch.Tensor]) -> FrameInputs:
        if len(names) != len(tensors):
            raise ValueError(f"{len(names)} names but {len(tensors)} tensors")
        return cls.from_dict(dict(zip(names, tensors)))

    def to(self, device: torch.device | str) -> FrameInputs:
        return FrameInputs.from_dict({k: v.to(device) for k, v in self.as_dict().items()})
