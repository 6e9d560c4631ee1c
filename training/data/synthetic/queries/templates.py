"""Surface forms: how a ``Program`` becomes a sentence, with paraphrases.

A sentence is a frame ("pick up {np}") around a noun phrase built from the descriptor
(superlative and colour adjectives, head noun, relation clause). Every choice among
paraphrases is drawn from the caller's RNG, so text is deterministic per seed.
"""

from __future__ import annotations

import numpy as np

from query3d.training.data.synthetic.catalogue import FUNCTIONS, category
from query3d.training.data.synthetic.queries.program import Descriptor, Program

REFER_FRAMES = (
    "{np}", "find {np}", "pick up {np}", "grab {np}", "where is {np}?", "point to {np}",
    "segment {np}", "show me {np}", "locate {np}", "can you find {np}?",
    "please hand me {np}", "look at {np}", "highlight {np}", "{np}, please",
    "I mean {np}", "take {np}",
)
MULTI_FRAMES = (
    "{np}", "find {np}", "pick up {np}", "show me {np}", "segment {np}", "highlight {np}",
    "where are {np}?", "select {np}",
)
INSTRUCTION_FRAMES = (
    "give me {fn}", "I need {fn}", "hand me {fn}", "bring me {fn}",
    "can you get me {fn}?", "I am looking for {fn}", "find me {fn}", "fetch {fn}, please",
)
INSTRUCTION_MULTI_FRAMES = (
    "show me all the {fnp}", "find all the {fnp}", "collect all the {fnp}",
    "which are the {fnp}?",
)
RELATION_PHRASES = {
    "left": ("to the left of {a}", "left of {a}", "on the left side of {a}"),
    "right": ("to the right of {a}", "right of {a}", "on the right side of {a}"),
    "front": ("in front of {a}", "just in front of {a}", "on the near side of {a}"),
    "behind": ("behind {a}", "in back of {a}", "on the far side of {a}"),
    "on": ("on {a}", "on top of {a}", "resting on {a}", "stacked on {a}"),
    "against": ("leaning against {a}", "propped up against {a}"),
    "next_to": ("next to {a}", "beside {a}", "right next to {a}"),
    "between": ("between {a} and {b}", "in between {a} and {b}"),
}
CLAUSE_STARTS = ("", "that is ", "which is ")
ADJECTIVES = {"largest": ("largest", "biggest"), "smallest": ("smallest", "tiniest"),
              "leftmost": ("leftmost",), "rightmost": ("rightmost",)}
POSTMODIFIERS = {
    "nearest": ("closest to the camera", "nearest to the camera", "nearest to the sensor"),
    "farthest": ("farthest from the camera", "furthest away from the camera"),
    # "the box on the left" says leftmost as often as "the leftmost box" does
    "leftmost": ("on the left", "furthest to the left"),
    "rightmost": ("on the right", "furthest to the right"),
}
GENERIC_NOUNS = ("object", "thing", "item")
NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}


def template_count() -> int:
    """Distinct sentence frames and phrase patterns the generator can use."""
    groups = [REFER_FRAMES, MULTI_FRAMES, INSTRUCTION_FRAMES, INSTRUCTION_MULTI_FRAMES,
              *RELATION_PHRASES.values(), *ADJECTIVES.values(), *POSTMODIFIERS.values()]
    return sum(len(g) for g in groups)


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


def _superlative_after(desc: Descriptor, rng: np.random.Generator) -> bool:
    """Whether the superlative follows the noun ("the box on the left") rather than
    precedes it ("the leftmost box"); a coin decides where both forms exist."""
    if desc.superlative not in POSTMODIFIERS:
        return False
    return desc.superlative not in ADJECTIVES or rng.random() < 0.5


def noun_phrase(desc: Descriptor, rng: np.random.Generator, plural: bool = False) -> str:
    """The phrase without a determiner: "biggest red mug left of the laptop"."""
    words = []
    post = _superlative_after(desc, rng)
    if desc.superlative in ADJECTIVES and not post:
        words.append(_pick(rng, ADJECTIVES[desc.superlative]))
    if desc.color is not None:
        words.append(desc.color)
    if desc.category is not None:
        cat = category(desc.category)
        words.append(cat.plural if plural else cat.name)
    else:
        noun = _pick(rng, GENERIC_NOUNS)
        words.append(noun + "s" if plural else noun)
    if post:
        words.append(_pick(rng, POSTMODIFIERS[desc.superlative]))
    if desc.relation is not None:
        anchors = ["the " + noun_phrase(a, rng) for a in desc.anchors]
        rel = _pick(rng, RELATION_PHRASES[desc.relation]).format(
            a=anchors[0], b=anchors[1] if len(anchors) > 1 else "")
        start = _pick(rng, CLAUSE_STARTS) if not plural else _pick(rng, ("", "that are "))
        words.append(start + rel)
    return " ".join(words)


def realise(program: Program, rng: np.random.Generator, count: int | None = None) -> str:
    """A sentence for ``program``; ``count`` (number of targets) enables "the two mugs"."""
    desc = program.descriptor
    if desc.function is not None and desc.category is None:
        return _instruction(program, rng)
    if program.number == "all":
        if count in NUMBER_WORDS and rng.random() < 0.3:
            np_ = f"the {NUMBER_WORDS[count]} " + noun_phrase(desc, rng, plural=True)
        else:
            np_ = _pick(rng, ("all the ", "all ", "every one of the ")) + noun_phrase(
                desc, rng, plural=True)
        return _pick(rng, MULTI_FRAMES).format(np=np_)
    return _pick(rng, REFER_FRAMES).format(np="the " + noun_phrase(desc, rng))


def _instruction(program: Program, rng: np.random.Generator) -> str:
    desc = program.descriptor
    singular, plural = FUNCTIONS[desc.function]
    if program.number == "all":
        return _pick(rng, INSTRUCTION_MULTI_FRAMES).format(fnp=plural)
    text = _pick(rng, INSTRUCTION_FRAMES).format(fn=_pick(rng, singular))
    extras = []
    if desc.color is not None:
        extras.append(f"the {desc.color} one")
    post = _superlative_after(desc, rng)
    if desc.superlative in ADJECTIVES and not post:
        extras.append(f"the {_pick(rng, ADJECTIVES[desc.superlative])} one")
    if post:
        extras.append("the one " + _pick(rng, POSTMODIFIERS[desc.superlative]))
    if desc.relation is not None:
        anchors = ["the " + noun_phrase(a, rng) for a in desc.anchors]
        extras.append("the one " + _pick(rng, RELATION_PHRASES[desc.relation]).format(
            a=anchors[0], b=anchors[1] if len(anchors) > 1 else ""))
    if not extras:
        return text
    end = "?" if text.endswith("?") else ""
    return text.rstrip("?").replace(", please", "") + ", " + " ".join(extras) + end
