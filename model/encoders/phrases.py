"""A command split into what it asks for and what it is placed against.

"the box behind the red box" names two objects: the target ("the box") and its anchor
("the red box"). Read as one sentence embedding, the colour word pulls the answer onto the
anchor, the red box itself. Splitting the sentence at its relation words gives the slot
scorer the target's words, the anchor's words and the relation apart, so it can find the
anchor among the slots and judge each slot by where it lies from there.

A small fixed list of English relation phrases (those the synthetic templates use and
their common variants), not a parser: a sentence without one keeps its whole text as the
target and has no anchor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# index 0 is "no relation"; the order is part of a trained scorer's input layout
RELATIONS = ("none", "left", "right", "front", "behind", "on", "under", "next_to",
             "between", "against")
_PATTERNS = (  # first match in the sentence wins; longer phrases listed first
    ("between", r"(?:in )?between"),
    ("left", r"(?:to |on )?the left(?:-hand)? (?:side |end )?of|left of"),
    ("right", r"(?:to |on )?the right(?:-hand)? (?:side |end )?of|right of"),
    ("front", r"(?:just |right )?in front of|on the near side of"),
    ("behind", r"(?:just |right )?behind|in back of|on the far side of|at the back of"),
    ("under", r"underneath|under|below|beneath"),
    ("on", r"(?:(?:resting|stacked|lying|sitting|standing|placed|put) )?on(?: top of)?|atop|"
           r"above|off(?: of)?"),  # "take the carton off the box": it is on the box
    ("against", r"(?:leaning |propped (?:up )?)?against"),
    ("next_to", r"(?:right )?next to|beside|besides|(?:closest|nearest|close) to|near|by"),
)
_MATCHER = re.compile(r"\b(?:" + "|".join(f"(?P<{name}>{pattern})" for name, pattern
                                          in _PATTERNS) + r")\b", re.IGNORECASE)
# "on the left", "on top", "closest to me": where the target lies, not a second object
_NOT_ANCHORS = re.compile(
    r"^\s*(?:the |a )?(?:left|right|top|bottom|side|near side|far side|table|it)\b"
    r"\s*[?.!]*\s*$|^\s*(?:the )?(?:far |very )?(?:left|right)\b"
    r"|^\s*(?:the |a )?(?:camera|sensor|robot|me|you|us)\b"  # the viewer: "closest to me"
    r"|^\s*(?:its|their|to)\b",  # "lying on its side": a pose, not a second object
    re.IGNORECASE)


@dataclass(frozen=True)
class Phrases:
    target: str  # the words about the answer itself (the whole text without a relation)
    relation: str  # one of RELATIONS
    anchor: str  # the words about the object it is placed against ("" without one)

    @property
    def relation_index(self) -> int:
        return RELATIONS.index(self.relation)


def split_relation(text: str) -> Phrases:
    """The first relation phrase followed by an anchor splits ``text``; "the object on
    the left" and "the box nearest to the camera" have none (where the target lies is
    told by the scorer's own place features)."""
    for match in _MATCHER.finditer(text):
        relation = match.lastgroup or "none"
        target, anchor = text[:match.start()].strip(), text[match.end():].strip(" ?.!,")
        if not target or not anchor or _NOT_ANCHORS.match(anchor):
            continue
        return Phrases(target, relation, anchor)
    return Phrases(text.strip(), "none", "")
