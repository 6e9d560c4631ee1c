"""Each training query's slot evidence from the frozen network, with how well each slot's
mask covers a target (its best IoU over the query's targets, 0 for zero-target queries).

One ``encode_frame`` per scene serves all of its queries (the text-free half), so a scene
with five queries costs about twice one query. Points are the runtime's: the seeded subset
at the checkpoint's density, as ``Segmenter`` draws it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from query3d.data.sample import Sample
from query3d.model.deployment import Deployment
from query3d.model.heads.slot_scorer import phrase_evidence
from query3d.model.mrcosmo import MRCosmo
from query3d.model.preprocess import prepare_frame
from query3d.model.runtime.density import network_subset
from query3d.training.trainer.groups import spread_indices

ARRAYS = ("evidence", "iou", "zero_target", "query_start")


@dataclass
class EvidenceCache:
    evidence: np.ndarray  # (Q*K, F) float16
    iou: np.ndarray  # (Q*K,) float16 best IoU of the slot's mask with a target
    zero_target: np.ndarray  # (Q,) bool
    query_start: np.ndarray  # (Q + 1,) row offsets

    @property
    def num_queries(self) -> int:
        return len(self.query_start) - 1

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **{k: getattr(self, k) for k in ARRAYS})
        return path

    def subset(self, queries: Sequence[int]) -> EvidenceCache:
        """The cache of these queries only, in this order."""
        rows = [np.arange(self.query_start[q], self.query_start[q + 1]) for q in queries]
        sizes = np.array([len(r) for r in rows], np.int64)
        index = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        return EvidenceCache(self.evidence[index], self.iou[index],
                             self.zero_target[np.asarray(queries, np.int64)],
                             np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    @classmethod
    def concat(cls, parts: Sequence[EvidenceCache]) -> EvidenceCache:
        """One cache of several (e.g. shards stored by separate processes)."""
        starts, offset = [np.zeros(1, np.int64)], 0
        for part in parts:
            starts.append(part.query_start[1:] + offset)
            offset += int(part.query_start[-1])
        return cls(np.concatenate([p.evidence for p in parts]),
                   np.concatenate([p.iou for p in parts]),
                   np.concatenate([p.zero_target for p in parts]), np.concatenate(starts))

    @classmethod
    def load(cls, path: str | Path) -> EvidenceCache:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{k: data[k] for k in ARRAYS})


def slot_target_iou(mask: np.ndarray, instance: np.ndarray, object_ids: Sequence[int]
                    ) -> np.ndarray:
    """(K,) each slot's best IoU with one of the targets (0 without targets)."""
    best = np.zeros(mask.shape[0], np.float32)
    for object_id in object_ids:
        target = instance == object_id
        inter = (mask & target[None]).sum(1)
        union = (mask | target[None]).sum(1)
        best = np.maximum(best, np.where(union > 0, inter / np.maximum(union, 1), 0.0))
    return best


def scene_groups(data: Sequence[Sample], queries_per_scene: int
                 ) -> list[tuple[str, list[int]]]:
    """Each scene of a split with the indices of its stored queries, in the order the
    cache stores them (``queries_per_scene`` spread over the scene's queries)."""
    by_scene: dict[str, list[int]] = defaultdict(list)
    for i in range(len(data)):
        by_scene[data.scene_of(i)].append(i)  # type: ignore[attr-defined]
    return [(scene, [indices[j] for j in spread_indices(len(indices), queries_per_scene)])
            for scene, indices in by_scene.items()]


def query_scenes(data: Sequence[Sample], queries_per_scene: int) -> list[str]:
    """The scene of each query of the cache of ``data`` (unsharded), in its order."""
    return [scene for scene, picks in scene_groups(data, queries_per_scene) for _ in picks]


def query_texts(data: Sequence[Sample], queries_per_scene: int) -> list[str]:
    """The command of each query of the cache of ``data`` (unsharded), in its order."""
    return [data[i].query.text if not hasattr(data, "records")
            else data.records[i]["description"]  # type: ignore[attr-defined]
            for _, picks in scene_groups(data, queries_per_scene) for i in picks]


@torch.inference_mode()
def with_phrase_evidence(cache: EvidenceCache, net: MRCosmo, texts: Sequence[str],
                         batch: int = 128, tail: int = 0) -> EvidenceCache:
    """``cache`` (stored without phrases) with each command's ``phrase_evidence``
    appended to its slots' rows, as a scorer that reads relations stores it. The phrase
    evidence depends on the text and the word tables only, so the frame half (minutes
    per thousand scenes) is reused instead of run again. The last ``tail`` columns (a
    scorer's colour bins) stay last, after the phrases, where the graph puts them."""
    if len(texts) != cache.num_queries:
        raise ValueError(f"{cache.num_queries} stored queries, {len(texts)} texts")
    scorer = net.slot_scorer
    rows = []
    for start in tqdm(range(0, len(texts), batch), desc="phrase evidence", unit="batch"):
        text = net.text_module()(list(texts[start:start + batch]), phrases=True)
        rows += [phrase_evidence(text.phrases[i], text.relation[i:i + 1], scorer.names,
                                 scorer.colour_names)[0] for i in range(len(text.phrases))]
    per_query = torch.stack(rows).numpy().astype(np.float16)
    slots = np.diff(cache.query_start)
    width = cache.evidence.shape[1] - tail
    evidence = np.concatenate([cache.evidence[:, :width], np.repeat(per_query, slots, axis=0),
                               cache.evidence[:, width:]], axis=1)
    return EvidenceCache(evidence, cache.iou, cache.zero_target, cache.query_start)


@torch.inference_mode()
def cache_queries(net: MRCosmo, deployment: Deployment, data: Sequence[Sample],
                  queries_per_scene: int = 5, desc: str = "slot evidence",
                  shard: tuple[int, int] = (0, 1)) -> EvidenceCache:
    """``shard`` (i, n): only every n-th scene from the i-th (processes sharing the work;
    ``EvidenceCache.concat`` joins their parts)."""
    groups = scene_groups(data, queries_per_scene)[shard[0]::shard[1]]
    if not groups:
        raise ValueError("no queries to cache")
    return EvidenceCache.concat([scene_evidence(net, deployment, data, picks)
                                 for _, picks in tqdm(groups, desc=desc, unit="scene")])


@torch.inference_mode()
def scene_evidence(net: MRCosmo, deployment: Deployment, data: Sequence[Sample],
                   picks: Sequence[int]) -> EvidenceCache:
    """The evidence of one scene's queries ``picks`` (indices into ``data``, all of one
    scene): one ``encode_frame``, then the text half per query."""
    cfg = deployment.model
    scene = data[picks[0]].scene
    keep = network_subset(len(scene.points), deployment.network_points)
    points, colors, instance = scene.points, scene.colors, scene.instance
    if keep is not None:
        points, colors, instance = points[keep], colors[keep], instance[keep]
    cameras = scene.cameras if (cfg.use_images and scene.cameras) else None
    frame = prepare_frame(points, colors, cfg, cameras=cameras)
    encoding = net.encode_frame(frame)
    evidence, iou, zero, starts = [], [], [], [0]
    for index in picks:
        query = data[index].query
        out = net(frame, net.encode_text(query.text), encoding=encoding)
        mask = (out["mask_logits"] > 0).numpy()
        evidence.append(out["slot_evidence"].numpy().astype(np.float16))
        iou.append(slot_target_iou(mask, instance, query.object_ids).astype(np.float16))
        zero.append(not query.object_ids)
        starts.append(starts[-1] + mask.shape[0])
    return EvidenceCache(np.concatenate(evidence), np.concatenate(iou), np.array(zero),
                         np.array(starts, np.int64))
