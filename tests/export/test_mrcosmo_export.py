"""The real MR-COSMO frame graph: export, onnxruntime vs torch parity, and the Segmenter end
to end (a checkpoint on onnxruntime answers with torch while its graph exports).

One export per test session (the slow part, about a minute on 2 cores) of a ``small``
network with one layer per stack: the op types are those of the full network (layers
repeat), the graph is a third of the size.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from query3d.config import RuntimeConfig, load_config
from query3d.model.checkpoint import save_checkpoint
from query3d.model.export.frame_graph import export_frame_graph
from query3d.model.export.onnx_export import read_onnx_metadata
from query3d.model.export.split_graph import encoder_beside
from query3d.model.mrcosmo import EXPORT_OUTPUTS, build_model
from query3d.model.runtime.backends import OnnxRuntimeBackend, SplitOnnxRuntimeBackend
from query3d.model.runtime.scenes import tabletop_cloud
from query3d.model.runtime.segmenter import Segmenter

pytestmark = pytest.mark.slow
LAYERS = {
    "voxel_transformer_layers": 1,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "mask_refine_iters": 1,
}
EXAMPLE_POINTS = 2048  # Segmenter.example's default: the export's example size


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict:
    """The session's one export, made the way a node makes it: a checkpoint served with
    onnxruntime answers with torch at once while its graph exports in the background."""
    folder = tmp_path_factory.mktemp("mrcosmo")
    cfg = load_config("small", overrides={"model": LAYERS})
    torch.manual_seed(0)
    checkpoint = save_checkpoint(folder / "untrained.pt", build_model(cfg.model, text_encoder=None),
                                 cfg, extra={"class_names": ["box"]})
    background = Segmenter(checkpoint, backend="onnxruntime",
                           runtime=RuntimeConfig(onnx_cache_dir=str(folder / "cache")))
    points, colors = tabletop_cloud(2500, seed=9)
    at_start = background.segment(points, colors, text="a box", score_threshold=0.0)
    serving_at_start = background.serving(False)
    path = background.exporter.wait(False, timeout=600)
    return {"cfg": cfg, "checkpoint": checkpoint, "seg": Segmenter(checkpoint, backend="torch"),
            "onnx": path, "folder": folder, "background": background,
            "serving_at_start": serving_at_start, "answer_at_start": at_start,
            "cloud": (points, colors)}


def test_a_checkpoint_on_onnxruntime_answers_at_once_then_switches(served):
    assert served["serving_at_start"] == "torch"
    background = served["background"]
    assert background.serving(False) == "onnxruntime"
    assert served["onnx"].parent == served["folder"] / "cache"
    points, colors = served["cloud"]
    later = background.segment(points, colors, text="a box", score_threshold=0.0)
    first = served["answer_at_start"]
    assert len(later.targets) == len(first.targets) > 0
    for a, b in zip(later.targets, first.targets):
        np.testing.assert_allclose(a.box_center, b.box_center, atol=1e-3)
    # a second Segmenter of the same weights finds the cached graph: no export to wait for
    again = Segmenter(served["checkpoint"], backend="onnxruntime",
                      runtime=RuntimeConfig(onnx_cache_dir=str(served["folder"] / "cache")))
    assert again.backend(False).name == "onnxruntime"


def test_graph_is_described_and_dynamic(served):
    meta = read_onnx_metadata(served["onnx"])
    deployment = meta["deployment"]
    assert deployment["model"]["dim"] == served["cfg"].model.dim
    # what a served graph needs from training travels with it: its point density
    assert deployment["network_points"] == served["cfg"].data.max_points
    assert deployment["class_names"] == ["box"] and "loss" not in deployment
    assert (
        meta["text_encoder"]["text_dim"] == 384
        and len(meta["text_encoder"]["weights_sha256"]) == 64
    )
    assert meta["output_names"] == list(EXPORT_OUTPUTS) and meta["with_images"] is False
    dims = {
        vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in onnx.load(str(served["onnx"])).graph.input
    }
    assert dims["xyz"] == ["N", 3] and dims["voxel_members_1"][0] == "V1"
    assert dims["text_tokens"] == [1, "T", 384] and dims["seeds"] == [served["cfg"].model.num_seeds]


@pytest.mark.parametrize("num_points", [700, 4000, 9000])
def test_onnxruntime_matches_torch_on_unseen_point_counts(served, num_points):
    assert num_points != EXAMPLE_POINTS
    seg = served["seg"]
    inputs = seg.example(False, num_points=num_points)
    inputs["xyz"].add_(
        torch.from_numpy(
            np.random.default_rng(num_points)
            .normal(0, 0.001, inputs["xyz"].shape)
            .astype(np.float32)
        )
    )
    want = seg.backend(False).run(inputs)
    got = SplitOnnxRuntimeBackend(encoder_beside(served["onnx"]), served["onnx"],
                                  threads=1).run(inputs)
    assert got["mask_logits"].shape == (served["cfg"].model.num_queries, num_points)
    for name in ("mask_logits", "ref_logit", "class_logits"):
        assert float((got[name] - want[name]).abs().max()) <= 1e-3, name
    mismatch = ((got["mask_logits"] > 0) != (want["mask_logits"] > 0)).float().mean()
    assert float(mismatch) <= 1e-3
    for name in ("box_center", "box_size", "box_yaw"):
        assert float((got[name] - want[name]).abs().max()) <= 1e-3, name


def test_segmenter_maps_targets_back_to_the_input_cloud(served):
    seg = served["seg"]
    points, colors = tabletop_cloud(3000, seed=5)
    points[::7] = np.nan  # Kinect holes
    first = seg.segment(points, colors, text="the tall box", score_threshold=0.0)
    again = seg.segment(points, colors, text="the tall box", score_threshold=0.0)
    assert first.num_points == 3000 and first.targets
    holes = set(range(0, 3000, 7))
    for target in first.targets:
        assert target.point_indices.max() < 3000
        assert not holes & set(target.point_indices.tolist())
    assert set(first.timings_ms) == {"preprocess", "text", "network", "postprocess", "total"}
    assert seg.text_cache.hits >= 1 and again.timings_ms["text"] < first.timings_ms["text"]
    assert [len(t.point_indices) for t in again.targets] == [
        len(t.point_indices) for t in first.targets
    ]


def test_dense_cloud_runs_the_network_on_a_training_density_subset(served):
    """runtime.network_points: the network sees a seeded subset, every point gets a label."""
    import dataclasses

    from query3d.model.runtime.density import network_subset

    seg = served["seg"]
    points, colors = tabletop_cloud(3000, seed=11)
    runtime = seg.runtime
    try:
        seg.runtime = dataclasses.replace(runtime, network_points=1000)
        dense = seg.segment(points, colors, text="the tall box", score_threshold=0.0)
        subset = network_subset(3000, 1000)
        seg.runtime = dataclasses.replace(runtime, network_points=0)
        sparse = seg.segment(points[subset], colors[subset], text="the tall box",
                             score_threshold=0.0)
    finally:
        seg.runtime = runtime
    assert dense.num_points == 3000 and len(dense.targets) == len(sparse.targets) > 0
    for d, s in zip(dense.targets, sparse.targets):
        np.testing.assert_allclose(d.box_center, s.box_center, atol=1e-5)
        assert set(subset[s.point_indices]) <= set(d.point_indices)
        assert len(d.point_indices) > 2 * len(s.point_indices)  # the other points labelled


def test_segmenter_from_the_exported_graph_agrees_with_the_checkpoint(served, tmp_path):
    points, colors = tabletop_cloud(2500, seed=9)
    from_ckpt = served["seg"].segment(points, colors, text="a box", score_threshold=0.0)
    from_onnx = Segmenter(served["onnx"], backend="onnxruntime")
    result = from_onnx.segment(points, colors, text="a box", score_threshold=0.0)
    assert from_onnx.class_names == ["box"]
    assert len(result.targets) == len(from_ckpt.targets)
    for a, b in zip(result.targets, from_ckpt.targets):
        overlap = np.intersect1d(a.point_indices, b.point_indices).size
        assert overlap >= 0.999 * max(len(a.point_indices), len(b.point_indices))
        np.testing.assert_allclose(a.box_center, b.box_center, atol=1e-3)
    with pytest.raises(ValueError, match="torch backend needs a checkpoint"):
        Segmenter(served["onnx"], backend="torch")


def test_segmenter_rejects_what_it_cannot_serve(served, tmp_path):
    with pytest.raises(FileNotFoundError):
        Segmenter(tmp_path / "missing.pt", backend="torch")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(Path(served["checkpoint"]).read_bytes()[:5000])
    with pytest.raises(ValueError, match="truncated"):
        Segmenter(truncated, backend="torch")
    with pytest.raises(ValueError, match="no exported query3d graph"):
        Segmenter(tmp_path, backend="onnxruntime")
    empty = served["seg"].segment(np.full((5, 3), np.nan, np.float32), text="anything")
    assert empty.no_target and empty.num_points == 5


def test_camera_graph_matches_torch(served):
    """The graph robots with cameras run: ResNet convolutions, pixel gathers, dynamic C."""
    seg = served["seg"]
    path = export_frame_graph(
        seg.net, seg.deployment, seg.example(True), served["folder"] / "img.onnx", EXPORT_OUTPUTS
    )
    dims = {
        vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in onnx.load(str(path)).graph.input
    }
    assert dims["images"][0] == "C" and dims["pix_uv"][:2] == ["N", "C"]
    inputs = seg.example(True, num_points=3100)
    want = seg.backend(True).run(inputs)
    got = OnnxRuntimeBackend(path, threads=1).run(inputs)
    for name in EXPORT_OUTPUTS:
        assert float((got[name] - want[name]).abs().max()) <= 1e-3, name


def test_a_built_graph_is_served_while_the_other_is_being_made(served):
    seg = served["seg"]
    ready = seg.backend(False)
    got: list = []
    with seg._lock:  # as while the camera graph's ONNX export runs on another thread
        reader = threading.Thread(target=lambda: got.append(seg.backend(False)))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the built points-only graph waited for the lock"
    assert got == [ready]


def test_a_second_command_on_the_same_cloud_reuses_its_preprocessing(served, monkeypatch):
    import query3d.model.runtime.segmenter as segmenter_module

    calls = []
    real = segmenter_module.prepare_frame
    monkeypatch.setattr(segmenter_module, "prepare_frame",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    seg = served["seg"]
    points, colors = tabletop_cloud(2200, seed=21)
    first = seg.segment(points, colors, text="a box", score_threshold=0.0)
    second = seg.segment(points.copy(), colors.copy(), text="a box", score_threshold=0.0)
    assert len(calls) == 1  # the same content, another array: recognised
    assert [t.point_indices.tolist() for t in first.targets] == \
        [t.point_indices.tolist() for t in second.targets]
    moved = points.copy()
    moved[0, 0] += 0.01
    seg.segment(moved, colors, text="a box")
    assert len(calls) == 2  # a changed cloud is preprocessed again


def test_a_second_command_runs_only_the_text_dependent_part(served):
    """The point/voxel/image encoders run once per cloud; the answer to the second command
    equals what a fresh Segmenter (nothing cached) answers to it."""
    seg = Segmenter(served["checkpoint"], backend="torch")
    encoded = []
    seg.net.cloud.register_forward_hook(lambda *_: encoded.append(1))
    points, colors = tabletop_cloud(2300, seed=33)
    seg.segment(points, colors, text="a box", score_threshold=0.0)
    second = seg.segment(points, colors, text="the small mug", score_threshold=0.0)
    assert len(encoded) == 1
    fresh = Segmenter(served["checkpoint"], backend="torch").segment(
        points, colors, text="the small mug", score_threshold=0.0)
    assert len(second.targets) == len(fresh.targets) > 0
    for a, b in zip(second.targets, fresh.targets):
        assert a.point_indices.tolist() == b.point_indices.tolist()
        assert a.score == pytest.approx(b.score, abs=1e-5)
    seg.segment(points[:-1], colors[:-1], text="the small mug")
    assert len(encoded) == 2  # another cloud is encoded again


def test_onnxruntime_serves_the_graph_in_two_parts_and_encodes_a_cloud_once(served):
    """The node's cache holds the encoder and the text graph; a second command on a cloud
    runs only the text graph, and answers as torch does."""
    encoder = encoder_beside(served["onnx"])
    assert served["onnx"].name.endswith(".text.onnx") and encoder.is_file()
    assert read_onnx_metadata(encoder)["part"] == "encoder"
    backend = served["background"].backend(False)
    assert isinstance(backend, SplitOnnxRuntimeBackend)
    seg = served["seg"]
    first = seg.example(False, num_points=3300)
    mug = seg.text_cache("the small mug")
    second = dict(first)
    second.update(text_tokens=mug.tokens[:1], text_mask=mug.mask[:1], text_pooled=mug.pooled[:1])
    runs = backend.encoder_runs
    for inputs in (first, second):
        got = backend.run(inputs, frame_key="cloud-a")
        want = seg.backend(False).run(inputs)
        for name in EXPORT_OUTPUTS:
            assert float((got[name] - want[name]).abs().max()) <= 1e-3, name
    assert backend.encoder_runs == runs + 1  # one cloud, two commands: encoded once
    backend.run(first, frame_key="cloud-b")
    assert backend.encoder_runs == runs + 2


def test_query3d_export_writes_whole_and_two_part_graphs_and_onnxruntime_serves_the_parts(
        served, tmp_path):
    import json

    from query3d.cli import main

    report = tmp_path / "export.json"
    argv = ["export", "--checkpoint", str(served["checkpoint"]), "--out", str(tmp_path),
            "--no-images", "--json", str(report)]
    assert main(argv) == 0
    points = json.loads(report.read_text())["graphs"]["points"]
    assert max(points["split_max_abs_diff"].values()) <= 1e-3
    names = {p.name for p in tmp_path.glob("*.onnx")}
    assert names == {"frame.onnx", "frame.encoder.onnx", "frame.text.onnx"}
    folder = Segmenter(tmp_path, backend="onnxruntime")
    assert isinstance(folder.backend(False), SplitOnnxRuntimeBackend)
    cloud = tabletop_cloud(2600, seed=4)
    got = folder.segment(*cloud, text="a box", score_threshold=0.0)
    want = served["seg"].segment(*cloud, text="a box", score_threshold=0.0)
    assert len(got.targets) == len(want.targets) > 0
    for a, b in zip(got.targets, want.targets):
        np.testing.assert_allclose(a.box_center, b.box_center, atol=1e-3)


def test_the_runtime_section_chooses_the_backend(served):
    cache = str(served["folder"] / "cache")
    chosen = Segmenter(served["checkpoint"],
                       runtime=RuntimeConfig(backend="onnxruntime", onnx_cache_dir=cache))
    assert chosen.backend_name == "onnxruntime"
    assert Segmenter(served["checkpoint"]).backend_name == "torch"  # auto: answers at once
    assert Segmenter(served["onnx"]).backend_name in ("onnxruntime", "tensorrt")
    with pytest.raises(ValueError, match="backend 'caffe'"):
        Segmenter(served["checkpoint"], runtime=RuntimeConfig(backend="caffe"))
