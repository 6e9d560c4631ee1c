"""Draws a mix of queries for one scene: referring, relation, size, camera, instruction,
multi-target and zero-target. A proposer names the objects it intends; ``check_query``
then runs the description on the scene and keeps the query only if it denotes exactly
those objects, unambiguously."""

from __future__ import annotations

import json

import numpy as np

from query3d.training.data.synthetic.catalogue import (
    FUNCTIONS,
    categories_for,
    categories_with_function,
    category,
    is_query_category,
)
from query3d.training.data.synthetic.queries.facts import FactObject, SceneFacts
from query3d.training.data.synthetic.queries.program import (
    Descriptor,
    Program,
    check_query,
    denote,
    eval_type,
)
from query3d.training.data.synthetic.queries.relations import SUPERLATIVES
from query3d.training.data.synthetic.queries.templates import realise

KIND_WEIGHTS = {"referring": 2.0, "relation": 2.6, "size": 1.0, "camera": 0.7,
                "instruction": 1.3, "multi": 1.3, "zero": 1.4}
Proposal = tuple[Program, list[int]] | None


def _choice(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))] if items else None


def identify(target: FactObject, facts: SceneFacts, rng: np.random.Generator) -> Descriptor | None:
    """A short phrase (category, colour + category or colour alone) naming only ``target``."""
    options = [Descriptor(target.category), Descriptor(target.category, target.color),
               Descriptor(color=target.color)]
    order = [0, 1, 2] if rng.random() < 0.6 else list(rng.permutation(3))
    for k in order:
        sure, unsure = denote(options[k], facts)
        if sure == {target.object_id} and not unsure:
            return options[k]
    return None


def _referring(facts: SceneFacts, rng) -> Proposal:
    t = _choice(rng, facts.visible)
    desc = identify(t, facts, rng) if t else None
    return (Program(desc), [t.object_id]) if desc else None


def _head(t: FactObject, rng) -> Descriptor:
    roll = rng.random()
    if roll < 0.15:
        return Descriptor()
    return Descriptor(t.category, t.color if roll > 0.75 else None)


def _relation(facts: SceneFacts, rng) -> Proposal:
    t = _choice(rng, facts.visible)
    if t is None:
        return None
    others = [o for o in facts.visible if o.object_id != t.object_id]
    ids = {o.object_id for o in facts.objects}
    options = ["left", "right", "front", "behind", "next_to", "between"]
    if t.support in ids:
        options += ["on", "on"]
    if t.leaning_on in ids:
        options += ["against", "against"]
    rel = _choice(rng, options)
    if rel == "on":
        anchors = [facts.get(t.support)]
    elif rel == "against":
        anchors = [facts.get(t.leaning_on)]
    elif rel == "between":
        if len(others) < 2:
            return None
        pick = rng.choice(len(others), size=2, replace=False)
        anchors = [others[int(i)] for i in pick]
    else:
        anchors = [_choice(rng, others)] if others else []
    if not anchors or any(a is None for a in anchors):
        return None
    named = [identify(a, facts, rng) for a in anchors]
    if any(n is None for n in named):
        return None
    head = _head(t, rng)
    desc = Descriptor(head.category, head.color, relation=rel, anchors=tuple(named))
    return Program(desc), [t.object_id]


def _superlative(facts: SceneFacts, rng, names: tuple[str, ...]) -> Proposal:
    t = _choice(rng, facts.visible)
    if t is None:
        return None
    base = _choice(rng, [Descriptor(t.category), Descriptor(), Descriptor(color=t.color)])
    sup = _choice(rng, list(names))
    desc = Descriptor(base.category, base.color, superlative=sup)
    try:
        sure, _ = denote(desc, facts)
    except ValueError:
        return None
    return Program(desc), sorted(sure)


def _instruction(facts: SceneFacts, rng) -> Proposal:
    present = sorted({f for o in facts.visible for f in category(o.category).functions})
    f = _choice(rng, present)
    if f is None:
        return None
    group = [o for o in facts.objects if o.category in categories_with_function(f)]
    if len(group) == 1:
        return Program(Descriptor(function=f)), [group[0].object_id]
    if rng.random() < 0.5:
        return Program(Descriptor(function=f), "all"), sorted(o.object_id for o in group)
    t = _choice(rng, [o for o in group if o.visible])
    extra = _choice(rng, [Descriptor(function=f, color=t.color),
                          Descriptor(function=f, superlative=_choice(rng, list(SUPERLATIVES)))])
    try:
        sure, _ = denote(extra, facts)
    except ValueError:
        return None
    return Program(extra), sorted(sure)


def _multi(facts: SceneFacts, rng) -> Proposal:
    t = _choice(rng, facts.visible)
    if t is None:
        return None
    roll = rng.random()
    if roll < 0.4:
        desc = Descriptor(t.category)
    elif roll < 0.75:
        desc = Descriptor(color=t.color)
    else:
        anchor = _choice(rng, facts.visible)
        named = identify(anchor, facts, rng)
        if named is None:
            return None
        rel = _choice(rng, ["left", "right", "front", "behind", "on", "next_to"])
        desc = Descriptor(relation=rel, anchors=(named,))
    try:
        sure, _ = denote(desc, facts)
    except ValueError:
        return None
    return Program(desc, "all"), sorted(sure)


def _zero(facts: SceneFacts, rng) -> Proposal:
    """Plausible but absent: a missing category, colour, function or relation."""
    roll = rng.random()
    pool = [c for c in categories_for(facts.kind) if c.name not in facts.all_categories]
    if roll < 0.3 and pool:
        cat = _choice(rng, pool)
        desc = Descriptor(cat.name, _choice(rng, list(cat.colors)) if rng.random() < 0.4 else None)
    elif roll < 0.6 and facts.visible:
        t = _choice(rng, facts.visible)
        desc = Descriptor(t.category, _choice(rng, list(category(t.category).colors)))
    elif roll < 0.75:
        present = {f for c in facts.all_categories if is_query_category(c)
                   for f in category(c).functions}
        absent = [f for f in FUNCTIONS if f not in present]
        desc = Descriptor(function=_choice(rng, absent)) if absent else None
    else:
        proposal = _relation(facts, rng)
        if proposal is None:
            return None
        d = proposal[0].descriptor
        other = _choice(rng, [o for o in facts.objects if o.category != d.category])
        desc = Descriptor(other.category if other else d.category, None, None, d.relation,
                          d.anchors) if other else None
    if desc is None:
        return None
    return Program(desc, "all" if rng.random() < 0.2 else "one"), []


PROPOSERS = {
    "referring": _referring,
    "relation": _relation,
    "size": lambda f, r: _superlative(f, r, ("largest", "smallest", "leftmost", "rightmost")),
    "camera": lambda f, r: _superlative(f, r, ("nearest", "farthest")),
    "instruction": _instruction,
    "multi": _multi,
    "zero": _zero,
}


def sample_queries(facts: SceneFacts, rng: np.random.Generator, scene_id: str,
                   count: int = 10, max_tries_per_query: int = 15) -> list[dict]:
    """Up to ``count`` checked queries in Multi3DRefer-like records."""
    kinds = list(KIND_WEIGHTS)
    p = np.array([KIND_WEIGHTS[k] for k in kinds])
    p /= p.sum()
    records, seen = [], set()
    for _ in range(count * max_tries_per_query):
        if len(records) >= count:
            break
        kind = kinds[int(rng.choice(len(kinds), p=p))]
        proposal = PROPOSERS[kind](facts, rng)
        if proposal is None:
            continue
        program, ids = proposal
        try:
            check_query(program, ids, facts)
        except ValueError:
            continue
        key = json.dumps(program.to_json(), sort_keys=True)
        if key in seen:  # one wording per meaning and scene
            continue
        seen.add(key)
        text = realise(program, rng, count=len(ids))
        records.append({
            "scene_id": scene_id,
            "object_ids": [int(i) for i in ids],
            "object_names": [facts.get(i).category for i in ids],
            "ann_id": str(len(records)),
            "description": text,
            "eval_type": eval_type(ids),
            "kind": kind if ids else "zero",
            "program": program.to_json(),
        })
    return records
