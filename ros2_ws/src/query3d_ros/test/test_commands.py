"""Command text rules, the raw std_msgs/String decoding and the replay guard (no DDS)."""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy")

from rclpy.serialization import serialize_message  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from query3d_ros.commands import (  # noqa: E402
    MAX_COMMAND_CHARS,
    CommandRefused,
    ReplayGuard,
    check_command,
    process_start_ns,
    string_from_cdr,
)


def test_text_is_normalised_and_long_text_cut_with_a_warning() -> None:
    assert check_command("  the red\t\nmug ") == ("the red mug", None)
    text, warning = check_command("mug " * 1000)
    assert len(text) == MAX_COMMAND_CHARS and f"using the first {MAX_COMMAND_CHARS}" in warning


@pytest.mark.parametrize(("raw", "why"), [
    ("", "empty text"), ("  \t ", "empty text"),
    ("the red\x00 mug", "NUL character at position 7"),
    ("the \x1b[31mred", "control character"),
])
def test_bad_text_is_refused_with_the_reason(raw: str, why: str) -> None:
    with pytest.raises(CommandRefused, match=why.replace("[", r"\[")):
        check_command(raw)


@pytest.mark.parametrize("text", ["the red mug", "", "la tasse bleue à gauche", "杯子"])
def test_serialized_strings_decode_like_rclpy_does(text: str) -> None:
    assert string_from_cdr(serialize_message(String(data=text))) == text


def test_an_embedded_nul_survives_decoding_and_bad_bytes_are_refused() -> None:
    body = b"the red\x00 mug\x00"
    raw = b"\x00\x01\x00\x00" + len(body).to_bytes(4, "little") + body
    assert string_from_cdr(raw) == "the red\x00 mug"
    big_endian = b"\x00\x00\x00\x00" + len(body).to_bytes(4, "big") + body
    assert string_from_cdr(big_endian) == "the red\x00 mug"
    for bad in (b"", b"\x00\x01\x00\x00\xff\xff\xff\xffabc",
                b"\x00\x01\x00\x00\x03\x00\x00\x00\xff\xfe\x00"):
        with pytest.raises(CommandRefused):
            string_from_cdr(bad)


def test_replays_are_refused_new_commands_taken() -> None:
    started = 1_000_000_000_000
    guard = ReplayGuard(started)
    old = {"source_timestamp": started - 5_000_000_000, "publication_sequence_number": 1,
           "publisher_gid": {"data": [1]}}
    assert "5.0 s before this node started" in guard.problem(old)
    new = dict(old, source_timestamp=started + 1, publication_sequence_number=2)
    assert guard.problem(new) is None
    assert "already taken once" in guard.problem(new)
    assert guard.problem(dict(new, publication_sequence_number=3)) is None


def test_process_start_is_in_the_past() -> None:
    import time

    assert 0 <= time.time_ns() - process_start_ns() < 3600 * 10**9
