"""`query3d train --task slot-scorer`: the slot scorer on top of a checkpoint that has a
semantic head. evidence cache (one frozen pass per query, stored under ``--cache``) ->
scorer training -> the source checkpoint written again with the scorer added and
``decision.slot_score: scorer`` (every other weight untouched; calibrate
``decision.score_threshold`` afterwards with ``query3d eval --score-thresholds``, or for
real scans from out-of-fold scores: ``calibrate_folds``, ``calibrate.py``)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from query3d.model.checkpoint import save_with_head
from query3d.model.heads.slot_scorer import HISTOGRAM, evidence_size, lab
from query3d.model.mrcosmo import MRCosmo
from query3d.training.data.synthetic.colors import COLOR_NAMES, NAMED_COLORS
from query3d.training.semantic.run import (
    Source,
    frozen_network,
    name_embeddings,
    reset_seeded,
    weights_key,
)
from query3d.training.slot_scoring.cache import (
    EvidenceCache,
    cache_queries,
    query_scenes,
    query_texts,
    with_phrase_evidence,
)
from query3d.training.slot_scoring.calibrate import (
    format_table,
    out_of_fold_logits,
    threshold_table,
)
from query3d.training.slot_scoring.fit import ScorerTraining, fit_slot_scorer
from query3d.training.slot_scoring.stacking import FoldHeads, stacked_cache
from query3d.training.trainer.data import open_split

REAL_KINDS = ("mosd", "mosd-generated", "mosd-composite", "osd")
ALL_QUERIES = 1000


def queries_key(data: object) -> str:
    """A short hash of a split's queries (generated ones change with the templates)."""
    digest = hashlib.blake2b(digest_size=4)
    for r in getattr(data, "records", []):
        digest.update(repr((r.get("scene_id", r.get("scan")), r["description"],
                            r["object_ids"])).encode())
    return digest.hexdigest()


def scorer_vocabulary(class_names: list[str], words: list[str]) -> list[str]:
    """The names the scorer compares with, in its evidence's column order: the classes,
    then ``model.slot_scorer_words``."""
    again = sorted(set(class_names) & set(words))
    if again:
        raise ValueError(f"model.slot_scorer_words {again} are class names already")
    return list(class_names) + list(words)


def set_vocabulary(net: MRCosmo, names: list[str]) -> None:
    """The words the scorer's evidence compares with: the checkpoint's class names, the
    synthetic palette's colour words ("the red object"), and the colour prototypes
    started at that palette's colours."""
    table = name_embeddings(net, names)
    scorer = net.slot_scorer
    with torch.no_grad():
        scorer.names.copy_(torch.stack([table[n] for n in names]))
        colours = F.normalize(torch.cat([net.encode_text(f"the {c} object").pooled[:1]
                                         for c in COLOR_NAMES]), dim=-1)
        scorer.colour_names.copy_(colours)
        if hasattr(scorer, "colour_prototypes"):
            anchors = torch.tensor([NAMED_COLORS[c] for c in COLOR_NAMES]) / 255.0
            scorer.colour_prototypes.copy_(lab(anchors))


def named_answers(scorer: Any, caches: list[EvidenceCache], said: float = 0.5,
                  positive_iou: float = 0.5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per cache: the colour columns (as seen and balanced Lab; with a colour namer what
    it reads, ``namer_input``) of the slots that found a target (IoU >= ``positive_iou``)
    of queries that say one colour word (share >= ``said``), and that word: what a colour
    word looks like in that source."""
    found = []
    for cache in caches:
        colour = np.asarray(scorer.namer_input(cache.evidence), dtype=np.float32)
        says = np.asarray(scorer.colour_evidence(cache.evidence)[1], dtype=np.float32)
        rows = (cache.iou.astype(np.float32) >= positive_iou) & (says.max(-1) >= said)
        found.append((colour[rows], says[rows].argmax(-1)))
    return found


def start_colour_prototypes(scorer: Any, caches: list[EvidenceCache], min_count: int = 10,
                            said: float = 0.5, positive_iou: float = 0.5) -> list[str]:
    """Each colour word's prototype started where the training answers it names lie: the
    mean balanced colour of the slots that found a target (IoU >= ``positive_iou``) of
    queries that say that word (share >= ``said``), averaged over the sources that have
    ``min_count`` such slots, so a large synthetic split does not outvote the real one.

    The palette's colours are what a renderer is asked for, not what the sensor and the
    grey-world balance give: a Kinect's "yellow" tin measures a pale olive, far from
    every palette anchor, and a prototype started there gets no gradient (its softmax
    share is ~0 for every real slot), so "the yellow box" scored 0 on every real scan.
    Returns the words whose prototype moved (the others keep the palette's)."""
    means: list[list[torch.Tensor]] = [[] for _ in range(scorer.num_colours)]
    for colour, word in named_answers(scorer, caches, said, positive_iou):
        balanced = torch.from_numpy(colour[:, 3:])  # as seen (0:3), balanced (3:6)
        for c in range(scorer.num_colours):
            rows = torch.from_numpy(word == c)
            if int(rows.sum()) >= min_count:
                means[c].append(balanced[rows].mean(0))
    moved = []
    with torch.no_grad():
        for c, found_means in enumerate(means):
            if found_means:
                scorer.colour_prototypes[c] = torch.stack(found_means).mean(0)
                moved.append(COLOR_NAMES[c])
    return moved


def start_colour_namer(scorer: Any, caches: list[EvidenceCache], steps: int = 1500,
                       seed: int = 0) -> dict[int, float]:
    """Train the scorer's colour namer (``model.slot_scorer_colour_namer``) as a classifier
    of the training answers' colours (``named_answers``), each source weighing the same,
    before the scorer trains end to end. Returns each source's share of answers named
    right (keyed by the cache's index), the namer's start."""
    answers = named_answers(scorer, caches)
    kept = [(i, x, y) for i, (x, y) in enumerate(answers) if len(y)]
    if not kept:
        return {}
    x = torch.from_numpy(np.concatenate([x for _, x, _ in kept]))
    y = torch.from_numpy(np.concatenate([y for _, _, y in kept]))
    weight = torch.cat([torch.full((len(y_),), 1.0 / len(y_)) for _, _, y_ in kept])
    reset_seeded(scorer.colour_namer, seed)
    optimiser = torch.optim.Adam(scorer.colour_namer.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = (F.cross_entropy(scorer.colour_namer(x), y, reduction="none") * weight).sum() \
            / weight.sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        right = scorer.colour_namer(x).argmax(-1) == y
    bounds = np.cumsum([0] + [len(y_) for _, _, y_ in kept])
    return {i: float(right[a:b].float().mean())
            for (i, _, _), a, b in zip(kept, bounds[:-1], bounds[1:])}


def run_slot_scorer_training(checkpoint: str | Path, sources: list[Source],
                             out: str | Path, settings: ScorerTraining,
                             cache_dir: str | Path = "runs/cache", queries_per_scene: int = 5,
                             repeats: list[int] | None = None, members: int = 1,
                             selection_spread: float | None = None,
                             selection_plain: int | None = None, calibrate_folds: int = 0,
                             calibrate_kinds: tuple[str, ...] = REAL_KINDS,
                             relations: bool | None = None,
                             peers: bool | None = None,
                             colour_namer: bool | None = None,
                             colour_histogram: bool | None = None,
                             words: list[str] | None = None, stack_folds: int = 0,
                             stack_kinds: tuple[str, ...] = ("mosd",)) -> dict[str, Any]:
    """``selection_spread`` (metres) and ``selection_plain`` change which slots the frozen
    network proposes (``model.selection_*``): the evidence, the scorer and the written
    checkpoint all use them; None keeps the checkpoint's. ``calibrate_folds`` > 0 also
    scores the queries of the ``calibrate_kinds`` sources out of fold (folds by scan) and
    reports a score-threshold table for each (``summary["calibration"]``). ``relations``:
    the scorer also reads the command's phrases (``model.slot_scorer_relations``); None
    keeps the checkpoint's setting; ``peers``, ``colour_namer`` and ``words`` likewise
    (``model.slot_scorer_peers``, ``model.slot_scorer_colour_namer``,
    ``model.slot_scorer_words``: compared besides the class names). ``stack_folds`` > 1
    reads the semantic evidence of the scenes the semantic head trained on (its
    ``stack_kinds`` sources) with heads refitted without each scene's fold
    (``stacking.py``)."""
    repeats = repeats or [1] * len(sources)
    flags: dict[str, Any] = {"slot_scorer": True, "slot_scorer_members": members}
    if relations is not None:
        flags["slot_scorer_relations"] = relations
    if peers is not None:
        flags["slot_scorer_peers"] = peers
    if colour_namer is not None:
        flags["slot_scorer_colour_namer"] = colour_namer
    if colour_histogram is not None:
        flags["slot_scorer_colour_histogram"] = colour_histogram
    if words is not None:
        flags["slot_scorer_words"] = list(words)
    if selection_spread is not None:
        flags["selection_spread"] = selection_spread
    if selection_plain is not None:
        flags["selection_plain"] = selection_plain
    net, deployment = frozen_network(checkpoint, fresh=("slot_scorer",), semantic_head=True,
                                     **flags)
    names = scorer_vocabulary(deployment.class_names, deployment.model.slot_scorer_words)
    relations = deployment.model.slot_scorer_relations  # as given, else the checkpoint's
    set_vocabulary(net, names)
    # the evidence is the frozen network's and the word tables': none of the scorer's own
    # weights (its MLPs, colour prototypes, anchor sharpness) changes it
    key = weights_key(net, "slot_scorer.")
    if deployment.model.slot_scorer_words:  # other words, other evidence columns
        key += "-w" + hashlib.blake2b("|".join(names).encode(), digest_size=3).hexdigest()
    spread, plain = deployment.model.selection_spread, deployment.model.selection_plain
    if spread > 0:  # other slots, other evidence (top-k caches keep their names)
        key += f"-spread{spread:g}" + (f"-plain{plain}" if plain else "")
    histogram = deployment.model.slot_scorer_colour_histogram
    size = evidence_size(net.cfg.dim, len(names), len(COLOR_NAMES), relations,
                         histogram)  # the layout
    plain_size = evidence_size(net.cfg.dim, len(names), len(COLOR_NAMES), False, histogram)
    caches, scenes = [], []
    stack = FoldHeads(checkpoint, stack_folds, stack_kinds, cache_dir=cache_dir) \
        if stack_folds else None
    for s in sources:
        # a real split is a few scans: all of its queries (synthetic: queries_per_scene)
        per_scene = ALL_QUERIES if s.kind in REAL_KINDS else queries_per_scene
        data = open_split(s.kind, s.root, s.split)
        stacked = stack is not None and stack.covers(data, per_scene)
        path = Path(cache_dir) / f"slots-{s.kind}-{Path(s.root).name}-{s.split}-" \
                                 f"{per_scene}-{key}-{queries_key(data)}" \
                                 f"{f'-stack{stack_folds}' if stacked else ''}-{size}.npz"
        if calibrate_folds:
            scenes.append(query_scenes(data, per_scene))
        if path.is_file():
            caches.append(EvidenceCache.load(path))
            continue
        without = path.with_name(path.name.replace(f"-{size}.npz", f"-{plain_size}.npz"))
        if relations and without.is_file():  # the same slots stored without phrases
            cache = with_phrase_evidence(EvidenceCache.load(without), net,
                                         query_texts(data, per_scene),
                                         tail=HISTOGRAM if histogram else 0)
            caches.append(cache)
            cache.save(path)
            continue
        if stacked:
            cache = stacked_cache(net, deployment, data, per_scene, stack,
                                  desc=f"{s.kind} {s.split}")
        else:
            cache = cache_queries(net, deployment, data, per_scene,
                                  desc=f"{s.kind} {s.split}")
        caches.append(cache)
        cache.save(path)
    named_right: dict[int, float] = {}
    if deployment.model.slot_scorer_colour_namer:
        named_right = start_colour_namer(net.slot_scorer, caches, seed=settings.seed)
    else:
        start_colour_prototypes(net.slot_scorer, caches)
    template = copy.deepcopy(net.slot_scorer)  # word tables set, not yet trained
    reset_seeded(net.slot_scorer.mlp, settings.seed)
    fit_slot_scorer(net.slot_scorer, caches, settings, repeats)
    calibration = _calibrate(template, sources, caches, scenes, settings, repeats,
                             calibrate_folds, calibrate_kinds) if calibrate_folds else {}
    info = {"steps": settings.steps, "seed": settings.seed, "members": members,
            "relations": relations, "peers": deployment.model.slot_scorer_peers,
            "words": list(deployment.model.slot_scorer_words),
            "colour_namer": deployment.model.slot_scorer_colour_namer,
            "colours_named_right_at_start": {f"{sources[i].kind}:{sources[i].split}": v
                                             for i, v in named_right.items()},
            "selection_spread": spread, "selection_plain": plain,
            "positive_iou": settings.positive_iou, "soft_targets": settings.soft_targets,
            "listwise": settings.listwise, "zero_target_weight": settings.zero_target_weight,
            "queries_per_scene": queries_per_scene,
            "stacked": {"folds": stack_folds, "kinds": list(stack_kinds),
                        "scenes": len(stack.fold_of)} if stack else None,
            "queries": int(sum(c.num_queries for c in caches)),
            "sources": [{"kind": s.kind, "root": s.root, "split": s.split, "repeat": r}
                        for s, r in zip(sources, repeats)]}
    if calibration:
        info["calibration"] = {**calibration, "folds": calibrate_folds}
    path = save_with_head(checkpoint, out, "slot_scorer", net.slot_scorer.state_dict(),
                          flags,  # unset selection_* stay the checkpoint's
                          {"slot_scorer": info},
                          decision={"slot_score": "scorer", "score_threshold": 0.5})
    summary = {"checkpoint": str(path), **info,
               "final_loss": settings.history[-1]["loss"] if settings.history else None}
    Path(out).with_suffix(".json").write_text(json.dumps(summary, indent=1))
    return summary


def _calibrate(template: Any, sources: list[Source], caches: list[EvidenceCache],
               scenes: list[list[str]], settings: ScorerTraining, repeats: list[int],
               folds: int, kinds: tuple[str, ...]) -> dict[str, Any]:
    calibrated = [s.kind in kinds for s in sources]
    if not any(calibrated):
        raise ValueError(f"score calibration needs a source of kind {', '.join(kinds)}")
    for s, cache, names in zip(sources, caches, scenes):
        if len(names) != cache.num_queries:  # a cache stored from other queries
            raise ValueError(f"{s.kind} {s.split}: {cache.num_queries} stored queries, "
                             f"{len(names)} in the split")
    logits = out_of_fold_logits(template, caches, scenes, calibrated, settings, repeats, folds)
    tables = {}
    for s, cache, lg in zip(sources, caches, logits):
        if lg is not None:
            label = f"{s.kind}:{s.split}"
            tables[label] = {"queries": cache.num_queries,
                             "thresholds": threshold_table(lg, cache)}
            print(format_table(label, tables[label]["thresholds"], cache.num_queries))
    return tables
