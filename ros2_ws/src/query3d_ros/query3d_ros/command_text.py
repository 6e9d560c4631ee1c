"""A command's text as the network should read it, or the reason there is none.

Commands come from people and scripts: stray control characters (a terminal's escape
codes, a C string's padding), runs of whitespace, megabytes of pasted text. Control
characters become spaces, whitespace collapses, and text with nothing printable left is
refused with its reason, so it never reaches the text encoder; the node cuts overlong
text. (A NUL is cut by the ROS string transport itself, before the node sees it.)
"""

from __future__ import annotations

import unicodedata


def clean_command(raw: str) -> tuple[str, str | None]:
    """(the text to run, None) or ("", why it is refused)."""
    printable = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in raw)
    text = " ".join(printable.split())
    if not text:
        what = "empty text" if not raw.strip() else \
            f"no printable text in {len(raw)} characters"
        return "", what
    return text, None
