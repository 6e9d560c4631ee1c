"""TensorRT optimisation profile of the frame graph from the runtime's point-count range.

Only the point count is a user setting (``trt_min/opt/max_points``); voxel, group, camera
and token counts follow from the cloud. Their "opt" is measured by preprocessing a
procedural tabletop cloud of ``trt_opt_points`` points (so TensorRT tunes kernels for
realistic sizes), their bounds come from the structure: a voxel holds at least one point
(V_s <= N), a window group at least one voxel (G <= V0), tokens <= max_text_tokens.
"""

from __future__ import annotations

from query3d.config import ModelConfig, RuntimeConfig
from query3d.model.preprocess import prepare_frame
from query3d.model.runtime.scenes import tabletop_cloud

MAX_CAMERAS = 4


def tensorrt_profile(model: ModelConfig, runtime: RuntimeConfig,
                     with_images: bool) -> dict[str, tuple[int, int, int]]:
    lo, opt, hi = runtime.trt_min_points, runtime.trt_opt_points, runtime.trt_max_points
    if not 0 < lo <= opt <= hi:
        raise ValueError(f"trt points need 0 < min <= opt <= max, got {lo, opt, hi}")
    points, colors = tabletop_cloud(opt, seed=0)
    frame = prepare_frame(points, colors, model)
    profile = {"N": (lo, opt, hi), "T": (1, min(16, model.max_text_tokens), model.max_text_tokens)}
    for s, centers in enumerate(frame.voxel_center):
        profile[f"V{s}"] = (1, int(centers.shape[0]), hi)
    profile["G"] = (1, int(frame.win_groups.shape[0]), hi)
    profile["GS"] = (1, int(frame.win_groups_shifted.shape[0]), hi)
    if with_images:
        profile["C"] = (1, 1, MAX_CAMERAS)
    return profile
