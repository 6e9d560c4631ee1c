"""The printed table of ``query3d eval``: overall, per split, per kind, per category, and
the trivial baselines on the same queries beside the overall numbers."""

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


BASELINE_COLUMNS = ("miou", "acc@0.25", "acc@0.5", "zero_target_accuracy", "box_acc@0.25")


def format_baselines(summary: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> str:
    """The network beside each trivial baseline, and its margin over the best of them."""
    head = f"{'':<36}" + "".join(f"{c.replace('zero_target_accuracy', 'zero-target'):>14}"
                                 for c in BASELINE_COLUMNS)
    def row(name: str, numbers: dict[str, Any]) -> str:
        cells = [numbers.get(k) for k in BASELINE_COLUMNS]
        return f"{name:<36}" + "".join(f"{'-':>14}" if v is None else f"{100 * v:>14.1f}"
                                       for v in cells)
    lines = ["-- against trivial baselines (same queries)", head, row("this model", summary)]
    lines += [row(f"baseline: {name.replace('_', ' ')}", numbers)
              for name, numbers in baselines.items()]
    best = max(baselines.items(), key=lambda kv: kv[1].get("miou", 0.0))
    margin = summary.get("miou", 0.0) - best[1].get("miou", 0.0)
    lines.append(f"mIoU margin over the best baseline ({best[0].replace('_', ' ')}): "
                 f"{100 * margin:+.1f} points")
    return "\n".join(lines)
