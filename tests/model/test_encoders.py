"""Encoders: shapes, gradients, order invariance, padding masks, pixel gathers, the text
encoder against sentence-transformers, and ONNX export with a dynamic point count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from query3d.config import ModelConfig
from query3d.model.encoders import (
    ImageEncoder,
    PointCloudEncoder,
    TextEncoder,
    WindowAttentionLayer,
    gather_pixel_features,
)
from query3d.model.preprocess import FrameInputs, prepare_frame

CFG = ModelConfig(dim=32, heads=4, knn_k=6, voxel_size=0.02, voxel_scales=[1, 2, 4],
                  window_size=4, window_group_size=16, voxel_member_cap=8, num_seeds=16,
                  voxel_transformer_layers=2, voxel_stem_blocks=1, point_mlp_layers=2)


def tabletop(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pts = np.column_stack([rng.uniform(-0.25, 0.25, n), rng.uniform(-0.2, 0.2, n),
                           rng.normal(0.0, 0.002, n)])
    box = n // 3
    pts[:box] = rng.uniform([-0.05, -0.05, 0.0], [0.05, 0.05, 0.1], (box, 3))
    return pts.astype(np.float32), rng.uniform(0, 1, (n, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def encoder() -> PointCloudEncoder:
    torch.manual_seed(0)
    return PointCloudEncoder(CFG).eval()


def test_point_cloud_encoder_shapes_and_gradients(encoder):
    f = prepare_frame(*tabletop(1200, 0), CFG)
    encoder.train()
    try:
        out = encoder(f)
    finally:
        encoder.eval()
    assert out.point.shape == (1200, CFG.dim)
    assert [v.shape for v in out.voxel] == [(c.shape[0], CFG.dim) for c in f.voxel_coords]
    loss = out.point.sin().sum() + sum(v.sin().sum() for v in out.voxel)
    loss.backward()
    missing = [n for n, p in encoder.named_parameters() if p.grad is None or
               not p.grad.abs().sum() > 0]
    encoder.zero_grad()
    assert not missing, f"parameters without gradient: {missing}"


def test_permuting_points_permutes_features(encoder):
    pts, rgb = tabletop(900, 1)
    perm = np.random.default_rng(2).permutation(len(pts))
    with torch.no_grad():
        a = encoder(prepare_frame(pts, rgb, CFG))
        b = encoder(prepare_frame(pts[perm], rgb[perm], CFG))
    torch.testing.assert_close(b.point, a.point[torch.from_numpy(perm)], rtol=0, atol=1e-5)
    for va, vb in zip(a.voxel, b.voxel):
        torch.testing.assert_close(vb, va, rtol=0, atol=1e-5)


def test_window_attention_ignores_padding():
    """Padded groups give the same result as attending over each window's voxels alone."""
    torch.manual_seed(3)
    f = prepare_frame(*tabletop(800, 4), CFG)
    layer = WindowAttentionLayer(CFG.dim, CFG.heads).eval()
    v = f.voxel_coords[0].shape[0]
    x = torch.randn(v, CFG.dim)
    edge = CFG.voxel_size * CFG.window_size
    with torch.no_grad():
        batched = layer(x, f.voxel_center[0], f.win_groups, f.win_inverse, edge)
        assert (f.win_groups == v).any()  # the check below is meaningful: pads exist
        for row in f.win_groups[:25]:
            ids = row[row < v]
            alone = layer(x[ids], f.voxel_center[0][ids], torch.arange(len(ids))[None],
                          torch.arange(len(ids)), edge)
            torch.testing.assert_close(batched[ids], alone, rtol=1e-5, atol=1e-5)


def test_image_encoder_and_pixel_gather():
    enc = ImageEncoder(CFG).eval()
    with torch.no_grad():
        fmap = enc(torch.randn(2, 3, 96, 128))
    assert fmap.shape == (2, CFG.dim, 12, 16)  # stride 8: last three stages of four fused
    # a feature map linear in the pixel position is sampled exactly by bilinear lookup
    h, w = 12, 16
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    plane = torch.stack([xs, ys, torch.ones_like(xs)])  # (3, h, w)
    fmap = torch.stack([plane, 2 * plane])
    pix = torch.tensor([[3.25, 7.5], [10.0, 2.75]])  # (u, v) pixel positions
    uv = (2 * pix + 1) / torch.tensor([w, h]) - 1
    pix_uv = torch.stack([uv, uv], dim=1)  # same position in both cameras
    valid = torch.tensor([[True, True], [False, True]])
    per_cam, fused = gather_pixel_features(fmap, pix_uv, valid)
    torch.testing.assert_close(per_cam[0, 0], torch.tensor([3.25, 7.5, 1.0]))
    torch.testing.assert_close(per_cam[0, 1], torch.tensor([6.5, 15.0, 2.0]))
    assert per_cam[1, 0].abs().sum() == 0
    torch.testing.assert_close(fused[0], torch.tensor([4.875, 11.25, 1.5]))
    torch.testing.assert_close(fused[1], torch.tensor([20.0, 5.5, 2.0]))


def test_image_encoder_loads_a_local_checkpoint(tmp_path):
    source = ImageEncoder(CFG)
    source.backbone.save_pretrained(tmp_path)
    loaded = ImageEncoder(ModelConfig(**{**CFG.__dict__, "image_checkpoint": str(tmp_path)}))
    for (name, a), b in zip(source.backbone.state_dict().items(),
                            loaded.backbone.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="not a local Hugging Face folder"):
        ImageEncoder(ModelConfig(image_checkpoint=str(tmp_path / "missing")))


@pytest.fixture(scope="module")
def text_encoder() -> TextEncoder:
    return TextEncoder(ModelConfig())


def test_text_encoder_matches_sentence_transformers(text_encoder):
    st = pytest.importorskip("sentence_transformers")
    from query3d.model.encoders.text import default_text_model_path

    texts = ["a red mug", "a red cup", "a laptop", "the box left of the bowl"]
    feats = text_encoder(texts)
    assert feats.tokens.shape[:2] == feats.mask.shape and feats.pooled.shape == (4, 384)
    assert feats.tokens.requires_grad is False
    ref = st.SentenceTransformer(default_text_model_path(), device="cpu").encode(
        texts, convert_to_tensor=True, normalize_embeddings=True)
    ours = torch.nn.functional.normalize(feats.pooled, dim=-1)
    torch.testing.assert_close(ours, ref.cpu(), rtol=1e-4, atol=1e-4)
    cos = ours @ ours.T
    assert cos[0, 1] > cos[0, 2] + 0.2


def test_text_encoder_phrases_are_the_target_and_anchor_encoded_alone(text_encoder):
    from query3d.model.encoders.phrases import RELATIONS

    with torch.no_grad():
        feats = text_encoder(["the box behind the red box", "all the cups"], phrases=True)
        alone = text_encoder(["the box", "the red box"]).pooled
    assert feats.phrases.shape == (2, 2, 384) and feats.relation.shape == (2, len(RELATIONS))
    assert feats.relation[0].argmax() == RELATIONS.index("behind")
    assert feats.relation[1].argmax() == 0 and feats.relation.sum(-1).tolist() == [1.0, 1.0]
    torch.testing.assert_close(feats.phrases[0], alone, rtol=1e-4, atol=1e-4)
    # no relation: the target is the whole command, and there is no anchor
    torch.testing.assert_close(feats.phrases[1, 0], feats.pooled[1])
    assert feats.phrases[1, 1].abs().max() == 0.0
    assert text_encoder("all the cups").phrases is None  # asked for only by relation scorers


def test_text_encoder_is_frozen_and_validates(text_encoder):
    holder = nn.ModuleDict({"text": text_encoder}).train()
    assert not text_encoder.model.training  # frozen encoder stays in eval mode
    assert not any(p.requires_grad for p in text_encoder.parameters())
    long = " ".join(["mug"] * 100)
    assert text_encoder(long).tokens.shape[1] == ModelConfig().max_text_tokens
    holder.eval()
    with pytest.raises(ValueError, match="text 1 is empty"):
        text_encoder(["a mug", "   "])
    with pytest.raises(ValueError, match="empty list"):
        text_encoder([])
    with pytest.raises(ValueError, match="text_dim is 512"):
        TextEncoder(ModelConfig(text_dim=512))


class FlatCloudEncoder(nn.Module):
    """What an exporter does: flat named tensors in, plain tensors out."""

    def __init__(self, encoder: PointCloudEncoder, names: list[str]) -> None:
        super().__init__()
        self.encoder = encoder
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.encoder(FrameInputs.from_flat(self.names, list(tensors)))
        return (out.point, *out.voxel)


def dynamic_axes(frame: FrameInputs) -> dict[str, dict[int, str]]:
    """Row counts that change from cloud to cloud, named so equal sizes share a name."""
    axes = {name: {0: "points"} for name in ("xyz", "rgb", "knn")}
    axes.update({name: {0: "voxels_0"} for name in ("kmap", "win_inverse",
                                                    "win_inverse_shifted")})
    axes.update({"win_groups": {0: "groups"}, "win_groups_shifted": {0: "groups_shifted"},
                 "seeds": {0: "seeds"}})
    for s in range(frame.num_scales):
        axes[f"point2voxel_{s}"] = {0: "points"}
        for name in ("voxel_coords", "voxel_center", "voxel_members"):
            axes[f"{name}_{s}"] = {0: f"voxels_{s}"}
    return axes


def test_onnx_export_with_dynamic_point_count(encoder, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    frame = prepare_frame(*tabletop(1000, 5), CFG)
    names = frame.names()
    wrapper = FlatCloudEncoder(encoder, names).eval()
    outputs = ["point"] + [f"voxel_{s}" for s in range(frame.num_scales)]
    axes = dynamic_axes(frame)
    axes.update({"point": {0: "points"}, **{f"voxel_{s}": {0: f"voxels_{s}"}
                                            for s in range(frame.num_scales)}})
    path = tmp_path / "cloud.onnx"
    torch.onnx.export(wrapper, tuple(frame.as_dict().values()), str(path), dynamo=False,
                      opset_version=17, input_names=names, output_names=outputs,
                      dynamic_axes=axes)
    onnx = pytest.importorskip("onnx")
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Gather" in ops and not ops & {"ScatterND", "ScatterElements", "Unique", "TopK",
                                           "NonZero", "Loop"}
    other = prepare_frame(*tabletop(1700, 6), CFG)
    assert other.num_points != frame.num_points
    assert other.win_groups.shape[0] != frame.win_groups.shape[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    feed = {k: v.numpy() for k, v in other.as_dict().items() if k in wanted}
    got = session.run(outputs, feed)
    with torch.no_grad():
        ref = wrapper(*other.as_dict().values())
    for name, a, b in zip(outputs, got, ref):
        assert a.shape == tuple(b.shape), name
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)
