"""What a query's words say about which augmentations keep it true.

Keyword tests rather than parsing: a false positive only means an augmentation is
skipped for that sample, a false negative would teach the network a wrong answer, so
the word lists err on the side of "depends on the view" / "mentions other objects".
"""

from __future__ import annotations

import re

from query3d.data.sample import Query, Sample

# ReferIt3D's view-dependent words plus the viewer itself ("closest to the camera")
VIEW_WORDS = (
    "left", "right", "leftmost", "rightmost", "front", "behind", "back", "facing",
    "looking", "across", "near side", "far side", "camera", "sensor", "viewer", "robot",
    "me", "you", "your", "my",
)
RELATION_WORDS = (
    "left", "right", "leftmost", "rightmost", "front", "behind", "back", "on", "onto",
    "against", "next", "beside", "besides", "between", "near", "nearest", "close", "closest",
    "far", "farthest", "furthest", "under", "underneath", "below", "beneath", "above",
    "over", "top", "across", "opposite", "inside", "in", "around", "by", "among", "side",
    "leaning", "stacked", "resting", "holding", "supporting",
)
GENERIC_NOUNS = ("object", "objects", "thing", "things", "item", "items", "one", "ones",
                 "stuff", "something")
VIEW_KINDS = ("view", "camera")
RELATION_KINDS = ("relation", "spatial")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def _mentions(text: str, phrases: tuple[str, ...]) -> bool:
    words = _words(text)
    lowered = " ".join(re.findall(r"[a-z]+", text.lower()))
    return any((p in words) if " " not in p else (p in lowered) for p in phrases)


def is_view_dependent(query: Query) -> bool:
    """True when the query's meaning changes if the scene turns under the viewer:
    left/right, in front/behind, nearest to the camera, ..."""
    return query.kind in VIEW_KINDS or _mentions(query.text, VIEW_WORDS)


def is_relational(query: Query) -> bool:
    """True when the query locates its target through other objects."""
    return query.kind in RELATION_KINDS or _mentions(query.text, RELATION_WORDS)


def mentioned_objects(sample: Sample) -> set[int] | None:
    """Objects a relational query may use as anchors: every object whose category the
    text names (singular or plural). None when the anchors cannot be told apart from
    other objects ("the thing left of the red one"), so nothing may be cropped."""
    query, scene = sample.query, sample.scene
    words = _words(query.text)
    if words & set(GENERIC_NOUNS):
        return None
    lowered = " ".join(re.findall(r"[a-z]+", query.text.lower()))
    mentioned = set()
    for obj in scene.objects:
        name = " ".join(re.findall(r"[a-z]+", obj.category.lower()))
        if name and any(re.search(rf"\b{re.escape(form)}\b", lowered)
                        for form in (name, name + "s", name + "es")):
            mentioned.add(obj.object_id)
    return mentioned
