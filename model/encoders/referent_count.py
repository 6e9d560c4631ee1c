"""How many objects a command can mean, read from its grammar.

"the black mug" names one object, "the two mugs" two, "all the mugs" any number. The slot
scorer judges each slot on its own, so where two slots both look like a black mug it fires
both; a robot asked for "the black mug" wants one answer, the best. The limit is read
from the target's words only (``split_relation``): "the mug left of the boxes" is one mug.

A few English rules, not a parser, and they err towards no limit: a plural noun, a
quantifier ("all", "every", "some"), "something" / "anything" (an instruction may be met
by several objects: "something to drink from" with two mugs on the table) or two noun
phrases joined by "and" leave the answer as the scorer gives it. Numerals cap at their
value ("which of the two boxes ..." then keeps at most two, which costs nothing).
"""

from __future__ import annotations

import re

from query3d.model.encoders.phrases import split_relation

_NUMERALS = {"one": 1, "two": 2, "both": 2, "pair": 2, "three": 3, "four": 4, "five": 5,
             "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_ANY_NUMBER = {"all", "every", "each", "everything", "these", "those"}
_SOME = {"some", "any", "anything", "something", "several", "many", "few", "various",
         "stuff"}
_NOT_PLURAL_ENDINGS = ("ss", "us", "is", "'s")
# one picked from a group: "which of the two boxes", "the shorter of the two", "either of"
_ONE_OF = re.compile(r"\b(?:which|either|one|the \w+er)\s+(?:one\s+)?of\b")
_WORD = re.compile(r"[a-z]+(?:'s)?|\d+")


def _is_plural_noun(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word.endswith(_NOT_PLURAL_ENDINGS)


def referent_limit(text: str) -> int | None:
    """The most objects ``text`` can refer to, or None where its words allow any number
    (zero always stays possible: "the red mug" may not be there)."""
    target = split_relation(text).target.lower()
    words = _WORD.findall(target)
    if any(w in _ANY_NUMBER for w in words):
        return None
    if _ONE_OF.search(target):  # "which of the two boxes is taller?": one of them
        return 1
    for word in words:
        if word.isdigit() and int(word) > 0:
            return int(word)
        if word in _NUMERALS and word != "one":
            return _NUMERALS[word]
    if "one" in words:  # "the one on the right", "one of the cans", "the purple one"
        return 1
    if any(w in _SOME for w in words) or re.search(r"\band (?:the|a|an|my)\b", target):
        return None
    if any(_is_plural_noun(w) for w in words):
        return None
    return 1
