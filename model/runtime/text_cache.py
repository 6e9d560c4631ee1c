"""Text features computed once per command string.

A robot repeats the same command for every frame; the text encoder (a transformer) costs
more than some frame graphs, so its output is cached by the exact command string.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TextFeatureCache(Generic[V]):
    """Least-recently-used cache of ``encode(text)`` with a fixed number of entries.

    ``functools.lru_cache`` is not used because the size comes from the runtime config
    at construction and the runtime reports hits and misses per instance.
    """

    def __init__(self, encode: Callable[[str], V], max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"text cache size must be >= 1, got {max_entries}")
        self._encode = encode
        self._entries: OrderedDict[str, V] = OrderedDict()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()  # the node's warm-up and worker threads share it

    def __call__(self, text: str) -> V:
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        with self._lock:
            if text in self._entries:
                self._entries.move_to_end(text)
                self.hits += 1
                return self._entries[text]
            value = self._encode(text)
            self.misses += 1
            self._entries[text] = value
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return value

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, text: object) -> bool:
        return text in self._entries

    def clear(self) -> None:
        self._entries.clear()
