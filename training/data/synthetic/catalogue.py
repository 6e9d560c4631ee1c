"""The object catalogue: what exists, how it is called, what it is for, where it goes.

Query wording (names, plurals, functions) and placement rules (what may stand on what)
are attributes of a category, so the generator and the query checker share one truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from query3d.training.data.synthetic import shapes_furniture as furn
from query3d.training.data.synthetic import shapes_small as small
from query3d.training.data.synthetic.colors import COLOR_NAMES
from query3d.training.data.synthetic.parts import ObjectModel, Part

Builder = Callable[[np.random.Generator, str], list[Part]]
ALL = COLOR_NAMES


@dataclass(frozen=True)
class Category:
    name: str
    plural: str
    build: Builder
    colors: tuple[str, ...]
    functions: tuple[str, ...] = ()
    supports: bool = False  # flat top that other things can stand on
    stackable: bool = False  # small and flat-bottomed: may stand on a support
    scope: tuple[str, ...] = ("tabletop",)
    weight: float = 1.0


CATEGORIES: dict[str, Category] = {c.name: c for c in [
    Category("box", "boxes", small.build_box, ALL, ("store",), supports=True,
             stackable=True, scope=("tabletop", "room"), weight=1.6),
    Category("can", "cans", small.build_can,
             ("red", "green", "blue", "yellow", "orange", "white", "black", "grey", "cyan"),
             ("drink",), stackable=True),
    Category("mug", "mugs", small.build_mug, ALL, ("drink",), stackable=True, weight=1.3),
    Category("cup", "cups", small.build_cup, ALL, ("drink",), stackable=True),
    Category("bowl", "bowls", small.build_bowl, ALL, ("soup",)),
    Category("plate", "plates", small.build_plate, ALL, ("serve",)),
    Category("bottle", "bottles", small.build_bottle,
             ("green", "blue", "brown", "white", "red", "orange", "cyan", "black"),
             ("drink",), weight=1.2),
    Category("ball", "balls", small.build_ball, ALL, ("play",), scope=("tabletop", "room")),
    Category("book", "books", small.build_book, ALL, ("read",), supports=True,
             stackable=True, weight=1.4),
    Category("laptop", "laptops", small.build_laptop, ("black", "grey", "white", "blue"),
             ("type", "screen"), weight=0.7),
    Category("monitor", "monitors", small.build_monitor, ("black", "grey", "white"),
             ("screen",), weight=0.5),
    Category("keyboard", "keyboards", small.build_keyboard, ("black", "grey", "white"),
             ("type",), weight=0.6),
    Category("phone", "phones", small.build_phone,
             ("black", "white", "blue", "pink", "red", "grey"), ("call", "screen"),
             stackable=True, weight=0.8),
    Category("apple", "apples", small.build_apple, ("red", "green", "yellow"), ("eat",),
             stackable=False),
    Category("plant", "plants", small.build_plant, ("green",), ("water",), weight=0.6),
    Category("lamp", "lamps", small.build_lamp, ALL, ("light",), weight=0.5),
    Category("vase", "vases", small.build_vase, ALL, ("flowers",), weight=0.7),
    Category("table", "tables", furn.build_table, ("brown", "white", "grey", "black"),
             ("place",), supports=True, scope=("room",)),
    Category("chair", "chairs", furn.build_chair, ALL, ("sit",), scope=("room",), weight=2.0),
    Category("sofa", "sofas", furn.build_sofa,
             ("grey", "blue", "brown", "green", "red", "black", "white", "purple"),
             ("sit",), scope=("room",), weight=0.6),
    Category("cabinet", "cabinets", furn.build_cabinet,
             ("brown", "white", "grey", "black", "blue"), ("store",), supports=True,
             scope=("room",), weight=0.8),
    Category("trash can", "trash cans", furn.build_trash_can,
             ("grey", "black", "blue", "green", "white"), ("trash",), scope=("room",),
             weight=0.6),
]}

# Room-scale versions of two tabletop categories share the category name.
ROOM_VARIANTS: dict[str, Builder] = {
    "plant": furn.build_floor_plant,
    "lamp": furn.build_floor_lamp,
}

# Function key -> (singular noun phrases, plural noun phrase) for instruction queries.
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "drink": (("something to drink from", "a thing I can drink out of",
               "something to pour my drink into"), "things to drink from"),
    "sit": (("something to sit on", "a thing to sit on", "a place to sit"),
            "things to sit on"),
    "read": (("something to read", "something I can read"), "things to read"),
    "type": (("something to type on", "a thing I can type with"), "things to type on"),
    "eat": (("something to eat", "a snack"), "things to eat"),
    "soup": (("something to eat soup from", "a container for my cereal"),
             "things to eat soup from"),
    "serve": (("something to serve food on", "a thing to put my food on"),
              "things to serve food on"),
    "store": (("something to store things in", "a container to put stuff in"),
              "things to store stuff in"),
    "trash": (("something to throw rubbish into", "a place for my rubbish"),
              "things to throw rubbish into"),
    "play": (("something to play catch with", "a toy to throw"), "things to play with"),
    "light": (("something that gives light", "a light for reading"),
              "things that give light"),
    "screen": (("something with a screen", "a display to watch"), "things with a screen"),
    "call": (("something to make a call with", "a device to call someone"),
             "things to make a call with"),
    "water": (("something that needs watering", "a living thing that needs water"),
              "things that need watering"),
    "flowers": (("something to put flowers in", "a container for flowers"),
                "things to put flowers in"),
    "place": (("something to put things on", "a surface to put my bag on"),
              "surfaces to put things on"),
}

# Things real scans hold that the generator never builds: queries may name them (queries
# generated on real scans, ``readers.mosd_generated``), no synthetic scene places one, and
# they are not semantic classes of the synthetic data.
WORD_ONLY: dict[str, Category] = {c.name: c for c in [
    Category("tin", "tins", small.build_can, ALL, ("store",), stackable=True, scope=()),
]}

CLASS_NAMES: tuple[str, ...] = (*CATEGORIES, "floor", "wall")
SEMANTIC_ID: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}


def categories_for(kind: str) -> list[Category]:
    """Categories that are placed as free objects in a scene of ``kind``."""
    if kind == "tabletop":
        return [c for c in CATEGORIES.values() if "tabletop" in c.scope]
    if kind == "room":
        return [c for c in CATEGORIES.values() if "room" in c.scope]
    raise ValueError(f"scene kind must be 'tabletop' or 'room', got {kind!r}")


def build_object(category: str, rng: np.random.Generator, color: str | None = None,
                 room_scale: bool = False) -> ObjectModel:
    """An instance of ``category`` with a colour from its palette (or the one given)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    cat = CATEGORIES[category]
    if color is None:
        color = str(rng.choice(cat.colors))
    elif color not in cat.colors:
        raise ValueError(f"{category} does not come in {color!r}; palette: {cat.colors}")
    builder = ROOM_VARIANTS.get(category, cat.build) if room_scale else cat.build
    return ObjectModel(category, color, builder(rng, color))


def is_query_category(name: str) -> bool:
    """Whether a query may name ``name``: a category the generator builds, or a word-only
    one."""
    return name in CATEGORIES or name in WORD_ONLY


def category(name: str) -> Category:
    """A category a query may name (``is_query_category``)."""
    if not is_query_category(name):
        raise KeyError(f"unknown category {name!r}")
    return CATEGORIES.get(name) or WORD_ONLY[name]


def categories_with_function(function: str) -> set[str]:
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}")
    return {c.name for c in (*CATEGORIES.values(), *WORD_ONLY.values())
            if function in c.functions}
