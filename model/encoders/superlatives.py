"""Which way a singular command ranks the objects it could mean.

"The box on the left", "the tallest object", "the mug closest to me": among the objects
that fit the words, the answer is the one at an extreme of one measure. The slot scorer
judges each slot from its own evidence and its place against all the slots (the table,
parts, duplicates among them), and on new real scans it picks the wrong end as often as
the right one (checkpoints/README.md, step 16). The decoder can instead rank the slots
the scorer already found plausible by the measure the words name
(``postprocess.extreme_first``).

A few English rules read from the target's words (``split_relation``: "the box left of
the mug" has an anchor and no superlative): left / right in the cloud's y, near / far as
the horizontal range from the cloud's origin (the sensor's foot in a levelled scan, the
robot in its base frame), high / low by the top of the object, big / small by the volume
of its points' extent. Two measures named at once ("the nearest box on the left") or
none: no ranking, the scorer's order stands.
"""

from __future__ import annotations

import re

from query3d.model.encoders.phrases import split_relation

# (measure, pattern) on the target's words; "furthest to the left" is left, not far
_SIDES = re.compile(r"\b(?:(?:furthest|farthest|far|very|most)\s+(?:to\s+)?(?:the\s+)?)?"
                    r"(left|right)(?:most|-most|-hand)?\b(?!\s+(?:at|in|next|behind|"
                    r"by|there|here|now|away|of))")
_MEASURES = (
    ("near", r"nearest|closest|nearer|closer|(?:at\s+|in\s+)?(?:the\s+)?(?:very\s+)?front"),
    ("far", r"farthest|furthest|farther|further|(?:at|in)\s+the\s+(?:very\s+)?back|"
            r"most\s+distant|far\s+away"),
    ("high", r"tallest|taller|highest|higher|on\s+top|at\s+the\s+top|topmost|upper|"
             r"uppermost|sticks\s+up"),
    ("low", r"lowest|lower|at\s+the\s+bottom|bottom(?:most)?|shortest|shorter|flattest|"
            r"flatter"),
    ("big", r"biggest|bigger|largest|larger|widest|wider"),
    ("small", r"smallest|smaller|tiniest|tinier|littlest"),
)
_MATCHERS = [(name, re.compile(rf"\b(?:{pattern})\b")) for name, pattern in _MEASURES]
SUPERLATIVES = ("left", "right", *(name for name, _ in _MEASURES))


def superlative_of(text: str) -> str | None:
    """The one measure (``SUPERLATIVES``) the target's words rank by, or None."""
    text = " ".join(text.lower().split())
    end = len(split_relation(text).target)  # the target's words are the text's start
    found = {m.group(1) for m in _SIDES.finditer(text) if m.start() < end}
    sideless = _SIDES.sub(lambda m: " " * len(m.group(0)), text)  # same offsets
    found |= {name for name, matcher in _MATCHERS
              if any(m.start() < end for m in matcher.finditer(sideless))}
    return found.pop() if len(found) == 1 else None
