"""Frame-graph outputs -> ``QueryResult`` (outside the graph, numpy).

Thresholding, picking the fired slots and de-duplicating them are data-dependent, so they
happen here rather than in the exported graph. Works on torch tensors (``MRCosmo``) and
on numpy arrays (onnxruntime / TensorRT outputs) alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from query3d.config import DecisionConfig
from query3d.model.boxes import fit_upright_box
from query3d.model.encoders.referent_count import referent_limit
from query3d.model.encoders.superlatives import superlative_of
from query3d.model.output import QueryResult, TargetResult

REQUIRED = ("box_center", "box_size", "box_yaw", "ref_logit", "class_logits", "mask_logits")


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _frame_origin_and_size(frame: Any) -> tuple[np.ndarray, int]:
    if isinstance(frame, Mapping):
        origin, xyz = frame.get("origin"), frame.get("xyz")
    else:
        origin, xyz = getattr(frame, "origin", None), getattr(frame, "xyz", None)
    if origin is None or xyz is None:
        raise ValueError("decode needs the frame's origin and xyz (FrameInputs or a dict)")
    return _numpy(origin).astype(np.float64).reshape(3), int(_numpy(xyz).shape[0])


def decode(
    raw: Mapping[str, Any],
    frame: Any,
    cfg: DecisionConfig,
    text: str,
    class_names: Sequence[str] = (),
) -> QueryResult:
    """Fired slots (score > ``score_threshold``; the score is ``cfg.slot_score``: the
    referred-to probability, or that times the slot's text relevance) become targets.

    Slots are taken by decreasing score; a slot whose point mask (probability >
    ``mask_threshold``) is empty or lies more than ``dedup_overlap`` inside the targets
    already kept is dropped: several slots may lock onto one object, or onto a part of it
    (IoU misses those: a part's IoU with its whole is small). No fired slot means
    ``no_target``. With ``limit_by_grammar`` a singular command keeps only its best
    target (a numeral: that many at most); a singular superlative ("the box on the
    left") is ranked by its measure (``extreme_first``) and fires above the lower of
    ``score_threshold`` and ``superlative_threshold``. Boxes go back to the cloud's frame
    by adding the frame's origin.
    """
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise ValueError(f"network output is missing {missing}")
    origin, n = _frame_origin_and_size(frame)
    xyz = _numpy(frame["xyz"] if isinstance(frame, Mapping) else frame.xyz).astype(np.float64)
    scores = _sigmoid(_numpy(raw["ref_logit"]).astype(np.float64))
    if cfg.slot_score == "scorer":
        if "slot_logit" not in raw:
            raise ValueError("decision.slot_score 'scorer' needs the graph output slot_logit "
                             "(export the checkpoint again)")
        scores = _sigmoid(_numpy(raw["slot_logit"]).astype(np.float64))
    elif cfg.slot_score == "referred_x_relevance":
        if "slot_relevance" not in raw:
            raise ValueError("decision.slot_score 'referred_x_relevance' needs the graph "
                             "output slot_relevance (export the checkpoint again)")
        scores = scores * _numpy(raw["slot_relevance"]).astype(np.float64)
    mask_logits = _numpy(raw["mask_logits"])
    if mask_logits.shape != (scores.shape[0], n):
        raise ValueError(f"mask_logits has shape {mask_logits.shape}, expected "
                         f"({scores.shape[0]}, {n}) for {n} points")
    centers, sizes = _numpy(raw["box_center"]), _numpy(raw["box_size"])
    yaws, classes = _numpy(raw["box_yaw"]), _numpy(raw["class_logits"]).argmax(-1)
    limit = referent_limit(text) if cfg.limit_by_grammar else None
    measure = superlative_of(text) if limit == 1 else None
    threshold = cfg.score_threshold
    if measure is not None:
        if cfg.superlative_share < 1.0:
            scores = extreme_first(scores, mask_logits, xyz + origin, measure, cfg)
        threshold = min(threshold, cfg.superlative_threshold)
    fired = [k for k in np.argsort(-scores, kind="stable") if scores[k] > threshold]
    targets: list[TargetResult] = []
    kept = _distinct_slots(fired, mask_logits, cfg)[:limit]
    if cfg.split_gap > 0 and limit != 1:
        kept = _split_targets(kept, xyz, cfg.split_gap, limit)
    for k, prob, index in kept:
        label = class_names[int(classes[k])] if int(classes[k]) < len(class_names) else ""
        center, size, yaw = centers[k].astype(np.float64), sizes[k].astype(np.float64), \
            float(yaws[k])
        fitted = fit_upright_box(xyz[index]) if cfg.box_from_mask else None
        if fitted is not None:  # the published box is the mask's, the head's is coarse
            center, size, yaw = fitted
        targets.append(TargetResult(
            target_id=len(targets),
            point_indices=index,
            point_scores=prob[index].astype(np.float32),
            box_center=center + origin,
            box_size=size,
            box_yaw=yaw,
            score=float(scores[k]),
            label=label,
        ))
    return QueryResult(text=text, num_points=n, targets=targets)


def extreme_first(scores: np.ndarray, mask_logits: np.ndarray, xyz: np.ndarray,
                  measure: str | None, cfg: DecisionConfig) -> np.ndarray:
    """``scores`` with the slot at the extreme ``measure`` names (``superlative_of``) in the
    best slot's place: among the distinct objects the slots scored at least
    ``superlative_share`` of the best score found, the leftmost / nearest / tallest ...
    takes the best score (and the best slot the one it had), so the answer fires exactly
    when the best slot would. ``xyz`` in the cloud's own frame (left is +y, near is a
    small horizontal range from its origin). Unchanged without a measure or with fewer
    than two candidate objects."""
    if measure is None or not len(scores):
        return scores
    top = int(np.argmax(scores))
    share = [k for k in np.argsort(-scores, kind="stable")
             if scores[k] >= cfg.superlative_share * scores[top]]
    kept = [(k, index) for k, _, index in _distinct_slots(share, mask_logits, cfg)
            if len(index) < 0.5 * len(xyz)]  # not the table under everything
    if len(kept) < 2:
        return scores
    values = [_measure(xyz[index], measure) for _, index in kept]
    best = kept[int(np.argmax(values))][0]
    out = scores.copy()
    out[top], out[best] = scores[best], scores[top]
    return out


def _measure(points: np.ndarray, measure: str) -> float:
    """How far an object's points go in ``measure``'s direction (bigger wins)."""
    low, high = np.percentile(points, 5, axis=0), np.percentile(points, 95, axis=0)
    centre = points.mean(0)
    return {"left": centre[1], "right": -centre[1],
            "near": -float(np.hypot(centre[0], centre[1])),
            "far": float(np.hypot(centre[0], centre[1])),
            "high": high[2], "low": -high[2],
            "big": float(np.prod(np.maximum(high - low, 1e-3))),
            "small": -float(np.prod(np.maximum(high - low, 1e-3)))}[measure]


def split_apart(xyz: np.ndarray, index: np.ndarray, gap: float, min_share: float = 0.1
                ) -> list[np.ndarray]:
    """A target's points in the pieces that lie more than ``gap`` apart (single linkage:
    ``gap_components``), largest first. One slot's mask can span two cups 20 cm apart; a
    grasp needs a box per cup. Pieces under ``min_share`` of the points (stray points, a
    sliver across a gap) stay with the largest piece."""
    if len(index) < 2:
        return [index]
    labels = gap_components(xyz[index], gap)
    sizes = np.bincount(labels)
    kept = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] >= min_share * len(index)]
    if len(kept) < 2:
        return [index]
    pieces = [index[labels == c] for c in kept]
    stray = ~np.isin(labels, kept)
    pieces[0] = np.sort(np.concatenate([pieces[0], index[stray]]))
    return pieces


def gap_components(xyz: np.ndarray, gap: float) -> np.ndarray:
    """(N,) piece of each point: the connected components of "closer than ``gap``",
    numbered in order of their first point -- scikit-learn's ``DBSCAN(eps=gap,
    min_samples=1)`` labels (single linkage; the tests hold them equal), from scipy's
    kd-tree pairs and graph components: a tenth of DBSCAN's time on a mask of a few
    hundred points (2.5 -> 0.2 ms), where a second command's whole budget is 40 ms."""
    pairs = cKDTree(xyz).query_pairs(gap, output_type="ndarray")
    n = len(xyz)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])),
                       shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _split_targets(kept: list[tuple[int, np.ndarray, np.ndarray]], xyz: np.ndarray,
                   gap: float, limit: int | None) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Each target in its pieces (``split_apart``), as long as the answers stay within
    ``limit`` ("the four cups": a mask over two of three targets' cups becomes the
    fourth); never drops a point, so the union of the answers is unchanged."""
    out: list[tuple[int, np.ndarray, np.ndarray]] = []
    for i, (k, prob, index) in enumerate(kept):
        pieces = split_apart(xyz, index, gap)
        if limit is not None and len(out) + len(pieces) + len(kept) - i - 1 > limit:
            pieces = [index]
        out.extend((k, prob, piece) for piece in pieces)
    return out


def _distinct_slots(fired: Sequence[int], mask_logits: np.ndarray, cfg: DecisionConfig
                    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(slot, point probabilities, its mask's point indices) of the fired slots that found an
    object of their own, best first. A slot whose mask lies more than ``dedup_overlap``
    inside the targets kept so far found one of them again, or a part of it: dropped,
    with its points outside them (merging those in instead measured worse: they are
    mostly wrong). The price: a second object that an earlier answer spills onto can be
    dropped with it, so a checkpoint whose masks spill may want a higher
    ``dedup_overlap`` (checkpoints/README.md, step 6)."""
    claimed = np.zeros(mask_logits.shape[1], dtype=bool)
    kept: list[tuple[int, np.ndarray, np.ndarray]] = []
    for k in fired:
        prob = _sigmoid(mask_logits[k].astype(np.float64))
        inside = prob > cfg.mask_threshold
        if not inside.any() or claimed[inside].mean() > cfg.dedup_overlap:
            continue
        claimed |= inside
        kept.append((k, prob, np.flatnonzero(inside).astype(np.int64)))
    return kept
