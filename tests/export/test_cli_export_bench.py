"""`query3d bench` on a tiny untrained network (torch backend) and the verbs' error paths."""

from __future__ import annotations

import json

import pytest

from query3d.cli import main

TINY = """base: small
model:
  voxel_transformer_layers: 1
  encoder_layers: 1
  decoder_layers: 1
  mask_refine_iters: 1
"""


def test_bench_reports_stages_percentiles_and_memory(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    out = tmp_path / "bench.json"
    from query3d.config import load_config
    from query3d.model.runtime.benchmark import untrained_checkpoint

    previous = untrained_checkpoint(load_config(config), tmp_path / "previous.pt", seed=1)
    argv = [
        "bench",
        "--config",
        str(config),
        "--compare",
        str(previous),
        "--points",
        "300,900",
        "--backends",
        "torch",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "UNTRAINED" in printed and "network" in printed
    report = json.loads(out.read_text())
    assert report["untrained"] is True and report["runs"] == 3
    # the compared checkpoint is measured in the same run, on the same clouds
    assert [(r["points"], r["backend"]) for r in report["results"]] == [
        (300, "torch"), (300, "compare/torch"), (900, "torch"), (900, "compare/torch")]
    assert {r["pair"] for r in report["ratios"]} == {"torch/compare/torch"}
    for row in report["results"]:
        for stage in ("preprocess", "text", "network", "postprocess", "total"):
            assert 0 <= row["ms"][stage]["median"] <= row["ms"][stage]["p90"]
        assert row["ms"]["total"]["median"] >= row["ms"]["network"]["median"]
        assert row["ms"]["text"]["median"] < row["text_uncached_ms"]  # cached after run 1
        assert row["peak_rss_mb"] > 50
        # a second command on the same cloud reuses its preprocessing
        assert row["second_command_ms"]["median"] > 0
        assert row["second_command_preprocess_ms"]["median"] < row["ms"]["preprocess"]["median"]


def test_verbs_report_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["export", "--checkpoint", str(tmp_path / "no.pt"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "--config", "no-such-preset", "--backends", "torch"]) == 2
    assert "neither a preset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--config", "small", "--points", "5"])
