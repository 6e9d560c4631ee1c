"""Input checks for the frame graph: bad input fails early with a ValueError naming it.

Run in eager mode only (never traced): the checks read tensor values, which an exported
graph must not branch on.
"""

from __future__ import annotations

import torch

from query3d.config import ModelConfig
from query3d.model.encoders import TextFeatures
from query3d.model.encoders.phrases import RELATIONS
from query3d.model.preprocess import FrameInputs


def _rows(name: str, t: torch.Tensor, n: int) -> None:
    if t.shape[0] != n:
        raise ValueError(f"frame {name} has {t.shape[0]} rows but the frame has {n} points")


def _index_range(name: str, t: torch.Tensor, limit: int) -> None:
    if t.numel() and (int(t.min()) < 0 or int(t.max()) > limit):
        raise ValueError(f"frame {name} has indices outside [0, {limit}]")


def validate_frame(frame: FrameInputs, cfg: ModelConfig) -> None:
    xyz = frame.xyz
    if xyz.dim() != 2 or xyz.shape[1] != 3:
        raise ValueError(f"frame xyz must be (N, 3), got {tuple(xyz.shape)}")
    n = xyz.shape[0]
    if n == 0:
        raise ValueError("frame has 0 points")
    if not torch.isfinite(xyz).all():
        raise ValueError("frame xyz contains NaN or inf coordinates")
    _rows("rgb", frame.rgb, n)
    if frame.rgb.shape[1] != 3:
        raise ValueError(f"frame rgb must be (N, 3), got {tuple(frame.rgb.shape)}")
    if not torch.isfinite(frame.rgb).all():
        raise ValueError("frame rgb contains NaN or inf values")
    _rows("knn", frame.knn, n)
    _index_range("knn", frame.knn, n)
    lengths = {name: len(getattr(frame, name)) for name in
               ("voxel_coords", "voxel_center", "point2voxel", "voxel_members")}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"frame per-scale lists differ in length (voxel scales): {lengths}")
    if frame.num_scales != len(cfg.voxel_scales):
        raise ValueError(f"frame has {frame.num_scales} voxel scales, the model expects "
                         f"{len(cfg.voxel_scales)} (cfg.voxel_scales)")
    for s in range(frame.num_scales):
        v = frame.voxel_center[s].shape[0]
        _rows(f"point2voxel[{s}]", frame.point2voxel[s], n)
        _index_range(f"point2voxel[{s}]", frame.point2voxel[s], v - 1)
        _index_range(f"voxel_members[{s}]", frame.voxel_members[s], n)
        if frame.voxel_members[s].shape[0] != v:
            raise ValueError(f"frame voxel_members[{s}] has {frame.voxel_members[s].shape[0]} "
                             f"rows but voxel_center[{s}] has {v}")
    if frame.kmap.shape != (frame.voxel_center[0].shape[0], 27):
        raise ValueError(f"frame kmap must be (V_0, 27), got {tuple(frame.kmap.shape)}")
    if frame.seeds.numel() == 0:
        raise ValueError("frame has no FPS seeds")
    _index_range("seeds", frame.seeds, n - 1)
    if cfg.use_superpoints:
        if frame.superpoint is None or frame.superpoint_members is None:
            raise ValueError("the model works on superpoints but the frame has none "
                             "(prepare_frame with this model's config computes them)")
        count = frame.superpoint_members.shape[0]
        _rows("superpoint", frame.superpoint, n)
        _index_range("superpoint", frame.superpoint, count - 1)
        _index_range("superpoint_members", frame.superpoint_members, n)
        if count == 0 or bool((frame.superpoint_members[:, 0] >= n).any()):
            raise ValueError("frame has a superpoint without member points")
    if frame.images is not None:
        if frame.pix_uv is None or frame.pix_valid is None:
            raise ValueError("frame has images but no pix_uv / pix_valid correspondences")
        c = frame.images.shape[0]
        if frame.pix_uv.shape != (n, c, 2) or frame.pix_valid.shape != (n, c):
            raise ValueError(f"frame pix_uv {tuple(frame.pix_uv.shape)} / pix_valid "
                             f"{tuple(frame.pix_valid.shape)} do not match {n} points and "
                             f"{c} cameras")


def validate_text(text: TextFeatures, cfg: ModelConfig) -> None:
    if not isinstance(text, TextFeatures):
        raise ValueError(f"text must be TextFeatures (from encode_text), got {type(text).__name__}")
    if text.tokens.dim() != 3 or text.tokens.shape[0] != 1:
        raise ValueError(f"text tokens must be (1, T, {cfg.text_dim}) for one query, got "
                         f"{tuple(text.tokens.shape)}")
    if text.tokens.shape[-1] != cfg.text_dim or text.pooled.shape[-1] != cfg.text_dim:
        raise ValueError(f"text features have width {text.tokens.shape[-1]} (pooled "
                         f"{text.pooled.shape[-1]}), the model expects text_dim={cfg.text_dim}")
    if text.mask.shape != text.tokens.shape[:2]:
        raise ValueError(f"text mask {tuple(text.mask.shape)} does not match tokens "
                         f"{tuple(text.tokens.shape[:2])}")
    if not bool(text.mask.any()):
        raise ValueError("text is empty: the query has no tokens")
    if not (torch.isfinite(text.tokens).all() and torch.isfinite(text.pooled).all()):
        raise ValueError("text features contain NaN or inf")
    if cfg.slot_scorer and cfg.slot_scorer_relations:
        if text.phrases is None or text.relation is None:
            raise ValueError("the slot scorer reads the command's phrases: encode the text "
                             "with phrases=True")
        if tuple(text.phrases.shape[1:]) != (2, cfg.text_dim) or \
                text.relation.shape[-1] != len(RELATIONS):
            raise ValueError(f"text phrases {tuple(text.phrases.shape)} / relation "
                             f"{tuple(text.relation.shape)}: expected (1, 2, {cfg.text_dim}) "
                             f"/ (1, {len(RELATIONS)})")


def validate_inputs(frame: FrameInputs, text: TextFeatures, cfg: ModelConfig) -> None:
    if not isinstance(frame, FrameInputs):
        raise ValueError(f"frame must be FrameInputs (from prepare_frame), got "
                         f"{type(frame).__name__}")
    validate_frame(frame, cfg)
    validate_text(text, cfg)
