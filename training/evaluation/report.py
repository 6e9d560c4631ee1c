"""The printed table of ``query3d eval``: overall, per split, per kind, per category."""

from __future__ import annotations

from typing import Any

COLUMNS = ("count", "miou", "acc@0.25", "acc@0.5", "box_acc@0.25", "box_acc@0.5",
           "box_f1@0.5")


def _row(name: str, numbers: dict[str, Any]) -> str:
    cells = []
    for key in COLUMNS:
        value = numbers.get(key)
        if value is None:
            cells.append(f"{'-':>12}")
        elif key == "count":
            cells.append(f"{int(value):>12d}")
        else:
            cells.append(f"{100.0 * value:>12.1f}")
    return f"{name:<24}" + "".join(cells)


def format_table(summary: dict[str, Any]) -> str:
    """Percentages, one row per group; groups with no samples are left out."""
    lines = [f"{'':<24}" + "".join(f"{c:>12}" for c in COLUMNS), _row("all", summary)]
    names = {"zt": "zero-target", "st": "single-target", "mt": "multi-target"}
    for key, numbers in summary.get("by_eval_type", {}).items():
        if numbers.get("count"):
            lines.append(_row(names.get(key, key), numbers))
    if "zero_target_accuracy" in summary:
        lines.append(f"{'zero-target accuracy':<24}"
                     f"{100.0 * summary['zero_target_accuracy']:>12.1f}")
    for title, group in (("kind", "by_kind"), ("category", "by_category")):
        items = summary.get(group, {})
        if items:
            lines.append(f"-- per {title}")
            lines.extend(_row(name, numbers) for name, numbers in items.items())
    return "\n".join(lines)
