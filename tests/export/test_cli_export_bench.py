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
    argv = [
        "bench",
        "--config",
        str(config),
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
    assert [r["points"] for r in report["results"]] == [300, 900]
    for row in report["results"]:
        for stage in ("preprocess", "text", "network", "postprocess", "total"):
            assert 0 <= row["ms"][stage]["median"] <= row["ms"][stage]["p90"]
        assert row["ms"]["total"]["median"] >= row["ms"]["network"]["median"]
        assert row["ms"]["text"]["median"] < row["text_uncached_ms"]  # cached after run 1
        assert row["peak_rss_mb"] > 50


def test_verbs_report_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["export", "--checkpoint", str(tmp_path / "no.pt"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "--config", "no-such-preset", "--backends", "torch"]) == 2
    assert "neither a preset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--config", "small", "--points", "5"])
