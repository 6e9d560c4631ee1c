"""The meaning of a query as a small program, and the checker that runs it on a scene.

A ``Descriptor`` is a noun phrase ("the red mug left of the laptop"): category, colour,
function, one relation to anchor phrases, one superlative. ``denote`` returns the
objects it definitely picks and those it might pick (UNSURE relations). ``check_query``
accepts a query only if the stated object ids are exactly the definite set, nothing is
unsure, a singular phrase picks one object and every anchor is itself unique.
"""

from __future__ import annotations

from dataclasses import dataclass

from query3d.training.data.synthetic.catalogue import categories_with_function
from query3d.training.data.synthetic.queries.facts import FactObject, SceneFacts
from query3d.training.data.synthetic.queries.relations import (
    TRUE,
    UNSURE,
    relation_value,
    superlative_key,
)


class AmbiguousQuery(ValueError):
    """The description does not pin down its object set in this scene."""


@dataclass(frozen=True)
class Descriptor:
    category: str | None = None
    color: str | None = None
    function: str | None = None
    relation: str | None = None
    anchors: tuple[Descriptor, ...] = ()
    superlative: str | None = None

    def matches(self, o: FactObject) -> bool:
        if self.category is not None and o.category != self.category:
            return False
        if self.color is not None and o.color != self.color:
            return False
        return self.function is None or o.category in categories_with_function(self.function)

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in ("category", "color", "function", "relation",
                                              "superlative") if getattr(self, k) is not None}
        if self.anchors:
            out["anchors"] = [a.to_json() for a in self.anchors]
        return out

    @staticmethod
    def from_json(d: dict) -> Descriptor:
        anchors = tuple(Descriptor.from_json(a) for a in d.get("anchors", ()))
        return Descriptor(d.get("category"), d.get("color"), d.get("function"),
                          d.get("relation"), anchors, d.get("superlative"))


@dataclass(frozen=True)
class Program:
    """``number`` is "one" (a definite or indefinite singular) or "all" (a plural)."""

    descriptor: Descriptor
    number: str = "one"

    def to_json(self) -> dict:
        return {"descriptor": self.descriptor.to_json(), "number": self.number}

    @staticmethod
    def from_json(d: dict) -> Program:
        return Program(Descriptor.from_json(d["descriptor"]), d.get("number", "one"))


def denote(desc: Descriptor, facts: SceneFacts) -> tuple[set[int], set[int]]:
    """(objects the phrase surely denotes, objects it may or may not denote)."""
    candidates = [o for o in facts.objects if desc.matches(o)]
    sure = {o.object_id for o in candidates}
    unsure: set[int] = set()
    if desc.relation is not None:
        anchors = [resolve(a, facts) for a in desc.anchors]
        values = {o.object_id: relation_value(desc.relation, o, anchors, facts)
                  for o in candidates}
        sure = {i for i, v in values.items() if v == TRUE}
        unsure = {i for i, v in values.items() if v == UNSURE}
    if desc.superlative is not None:
        if unsure:
            raise AmbiguousQuery(f"'{desc.superlative}' over an unsure set {sorted(unsure)}")
        if len(sure) < 2:
            raise AmbiguousQuery(f"'{desc.superlative}' needs two or more candidates")
        ranked = sorted((superlative_key(desc.superlative, facts.get(i), facts) + (i,)
                         for i in sure), reverse=True)
        (best, margin, best_id), (second, _, _) = ranked[0], ranked[1]
        if best - second < margin:
            raise AmbiguousQuery(f"'{desc.superlative}' winner {best_id} is not clear")
        sure = {best_id}
    return sure, unsure


def resolve(desc: Descriptor, facts: SceneFacts) -> FactObject:
    """The single visible object an anchor phrase names, or AmbiguousQuery."""
    sure, unsure = denote(desc, facts)
    if unsure or len(sure) != 1:
        raise AmbiguousQuery(f"anchor {desc.to_json()} denotes {sorted(sure)} "
                             f"(+{sorted(unsure)} unsure), not exactly one object")
    obj = facts.get(next(iter(sure)))
    if not obj.visible:
        raise AmbiguousQuery(f"anchor object {obj.object_id} is not visible")
    return obj


def check_query(program: Program, object_ids: list[int], facts: SceneFacts) -> None:
    """Raise (AmbiguousQuery / ValueError) unless ``object_ids`` is exactly what the
    program denotes in ``facts`` and the phrase is unambiguous."""
    if program.number not in ("one", "all"):
        raise ValueError(f"program number must be 'one' or 'all', got {program.number!r}")
    sure, unsure = denote(program.descriptor, facts)
    if unsure:
        raise AmbiguousQuery(f"objects {sorted(unsure)} may or may not be meant")
    if program.number == "one" and len(sure) > 1:
        raise AmbiguousQuery(f"a singular description matches {len(sure)} objects")
    if program.number == "all" and len(sure) == 1:
        raise AmbiguousQuery("a plural description matches a single object")
    if set(object_ids) != sure or len(set(object_ids)) != len(object_ids):
        raise ValueError(f"stated objects {sorted(object_ids)} but the description "
                         f"denotes {sorted(sure)}")
    hidden = [i for i in sure if not facts.get(i).visible]
    if hidden:
        raise AmbiguousQuery(f"targets {hidden} are not visible in the cloud")


def eval_type(object_ids: list[int]) -> str:
    return "zt" if not object_ids else ("st" if len(object_ids) == 1 else "mt")
