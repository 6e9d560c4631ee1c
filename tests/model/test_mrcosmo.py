"""The assembled network: shapes for both presets, gradients, order, determinism, bad input,
memory writes, decoding and the registry."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from _mrcosmo_scene import CLASS_NAMES, overhead_camera, tabletop

from query3d.config import DecisionConfig, LossConfig, ModelConfig, load_config
from query3d.model.encoders import TextEncoder, TextFeatures
from query3d.model.losses import MRCosmoLoss, QueryTargets
from query3d.model.mrcosmo import EXPORT_OUTPUTS, MRCosmo, build_model, parameter_counts
from query3d.model.output import QueryResult, TargetResult
from query3d.model.postprocess import decode
from query3d.model.preprocess import prepare_frame


@pytest.fixture(autouse=True)
def one_thread():
    """Small ops on shared CI cores: intra-op threads cost more than they give (3-10x)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def text_encoder() -> TextEncoder:
    return TextEncoder(load_config("small").model)


@pytest.fixture(scope="module")
def scene():
    return tabletop(per_object=60, table=150)


def small_cfg(**changes) -> ModelConfig:
    """The ``small`` preset with tiny camera images (the ResNet cost scales with pixels)."""
    return dataclasses.replace(load_config("small").model, image_size=[48, 64], **changes)


def build(cfg: ModelConfig, encoder: TextEncoder, seed: int = 0) -> MRCosmo:
    torch.manual_seed(seed)
    return MRCosmo(cfg, text_encoder=encoder)


def targets_for(scene, frame, instance_id: int) -> QueryTargets:
    centre, size = scene.box_of(instance_id)
    return QueryTargets(
        torch.from_numpy(scene.instance == instance_id)[None],
        torch.tensor(centre - frame.origin.numpy())[None].float(),
        torch.tensor(size)[None].float(), torch.zeros(1),
        torch.tensor([CLASS_NAMES.index(scene.names[instance_id].split()[-1])]))


@pytest.mark.parametrize("preset", ["small", "paper"])
def test_output_shapes_and_types(preset, text_encoder, scene):
    cfg = dataclasses.replace(load_config(preset).model, image_size=[48, 64])
    model = build(cfg, text_encoder).eval()
    frame = prepare_frame(scene.points, scene.colors, cfg, cameras=[overhead_camera()])
    n, k, d = len(scene.points), cfg.num_queries, cfg.dim
    with torch.no_grad():
        raw = model(frame, model.encode_text("the red box"))
    shapes = {"box_center": (k, 3), "box_size": (k, 3), "box_yaw": (k,), "box_yaw_vec": (k, 2),
              "ref_logit": (k,), "slot_relevance": (k,), "class_logits": (k, cfg.num_classes),
              "mask_logits": (k, n),
              "mask_logits_passes": (cfg.mask_refine_iters + 1, k, n), "point_feat": (n, d),
              "box_feat": (k, d), "memory_text": (1, d), "text_emb": (1, d), "image_emb": (1, d),
              "seed_logits": (frame.superpoint_members.shape[0] if cfg.use_superpoints
                              else min(cfg.num_seeds, n),)}
    for name, shape in shapes.items():
        assert tuple(raw[name].shape) == shape, name
        assert raw[name].dtype == torch.float32 and torch.isfinite(raw[name]).all(), name
    assert ((raw["slot_relevance"] >= 0) & (raw["slot_relevance"] <= 1)).all()
    result = decode(raw, frame, DecisionConfig(score_threshold=0.0), "the red box", CLASS_NAMES)
    assert isinstance(result, QueryResult) and result.num_points == n and result.targets
    t = result.targets[0]
    assert isinstance(t, TargetResult) and t.point_indices.dtype == np.int64
    assert t.box_center.shape == (3,) and isinstance(t.box_yaw, float)


def test_parameter_counts_split_out_the_text_encoder(text_encoder):
    model = build(small_cfg(), text_encoder)
    counts = parameter_counts(model)
    text = sum(p.numel() for p in text_encoder.parameters())
    assert counts["with_text_encoder"] - counts["without_text_encoder"] == text
    assert counts["trainable"] == counts["without_text_encoder"]  # frozen text encoder
    assert not any(k.startswith("text_encoder") for k in model.state_dict())
    with pytest.raises(ValueError, match="without a text encoder"):
        MRCosmo(small_cfg(), text_encoder=None).encode_text("the red box")


def test_a_trained_text_encoder_is_part_of_the_model():
    cfg = small_cfg(freeze_text=False, use_images=False)
    model = MRCosmo(cfg, text_encoder=TextEncoder(cfg))
    counts = parameter_counts(model)
    assert counts["trainable"] == counts["with_text_encoder"]
    assert any(k.startswith("text_encoder.") for k in model.state_dict())
    features = model.encode_text("the red box")
    assert features.pooled.requires_grad


def test_every_trainable_parameter_gets_a_gradient(text_encoder, scene):
    cfg = small_cfg()
    model = build(cfg, text_encoder).train()
    frame = prepare_frame(scene.points, scene.colors, cfg, cameras=[overhead_camera()])
    with torch.no_grad():  # a non-empty bank, as after the first training steps
        model.memory.bank.update(torch.randn(3, cfg.dim), torch.randn(3, cfg.dim),
                                 torch.tensor([0, 1, 1]), torch.tensor([0.2, 0.4, 0.3]))
    raws = [model(frame, model.encode_text(q)) for q in ("the red box", "the green cylinder")]
    targets = [targets_for(scene, frame, 0), targets_for(scene, frame, 2)]
    loss = MRCosmoLoss(LossConfig(), cfg.num_classes)(raws, targets)
    assert float(loss.terms["dcma"].detach()) > 0  # two image-text pairs: the contrast is active
    loss.total.backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not missing, missing


def test_shuffling_points_shuffles_the_mask(text_encoder, scene):
    cfg = small_cfg(use_images=False)
    model = build(cfg, text_encoder).eval()
    text = model.encode_text("the blue box")
    perm = np.random.default_rng(1).permutation(len(scene.points))
    with torch.no_grad():
        a = model(prepare_frame(scene.points, scene.colors, cfg), text)
        b = model(prepare_frame(scene.points[perm], scene.colors[perm], cfg), text)
    torch.testing.assert_close(b["mask_logits"], a["mask_logits"][:, perm], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(b["box_center"], a["box_center"], atol=1e-5, rtol=1e-5)


def test_fixed_seed_gives_identical_outputs(text_encoder, scene):
    cfg = small_cfg(use_images=False)
    frame = prepare_frame(scene.points, scene.colors, cfg)
    text = text_encoder("the yellow box")
    outs = []
    for _ in range(2):
        with torch.no_grad():
            outs.append(build(cfg, text_encoder, seed=7).eval()(frame, text))
    for name in EXPORT_OUTPUTS:
        assert torch.equal(outs[0][name], outs[1][name]), name
    with torch.no_grad():
        other = build(cfg, text_encoder, seed=8).eval()(frame, text)
    assert not torch.equal(outs[0]["mask_logits"], other["mask_logits"])


def test_bad_input_raises_value_errors_naming_the_problem(text_encoder, scene):
    cfg = small_cfg(use_images=False)
    model = build(cfg, text_encoder).eval()
    text = model.encode_text("the red box")
    good = prepare_frame(scene.points, scene.colors, cfg)
    with pytest.raises(ValueError, match="0 points"):
        model(dataclasses.replace(good, xyz=good.xyz[:0]), text)
    with pytest.raises(ValueError, match="0 points"):
        prepare_frame(np.zeros((0, 3)), None, cfg)
    bad = good.xyz.clone()
    bad[5, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        model(dataclasses.replace(good, xyz=bad), text)
    bad[5, 1] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        model(dataclasses.replace(good, xyz=bad), text)
    with pytest.raises(ValueError, match="rgb has"):
        model(dataclasses.replace(good, rgb=good.rgb[1:]), text)
    with pytest.raises(ValueError, match="text_dim"):
        model(good, TextFeatures(text.tokens[..., :300], text.mask, text.pooled[..., :300]))
    with pytest.raises(ValueError, match="empty"):
        model.encode_text("   ")
    with pytest.raises(ValueError, match="empty"):
        model(good, TextFeatures(text.tokens, torch.zeros_like(text.mask), text.pooled))
    with pytest.raises(ValueError, match="voxel scales"):
        model(dataclasses.replace(good, voxel_members=good.voxel_members[:2]), text)


def test_forward_accepts_the_flat_dict_form(text_encoder, scene):
    cfg = small_cfg(use_images=False)
    model = build(cfg, text_encoder).eval()
    frame = prepare_frame(scene.points, scene.colors, cfg)
    text = model.encode_text("the red box")
    with torch.no_grad():
        a, b = model(frame, text), model(frame.as_dict(), text)
    assert torch.equal(a["mask_logits"], b["mask_logits"])


@pytest.mark.parametrize("update", [False, True])
def test_memory_is_read_only_at_inference_unless_configured(text_encoder, scene, update):
    # memory_update_score 0: every slot writes
    cfg = small_cfg(use_images=False, memory_update_score=0.0,
                    memory_update_at_inference=update)
    model = build(cfg, text_encoder).eval()
    with torch.no_grad():
        model(prepare_frame(scene.points, scene.colors, cfg), model.encode_text("the red box"))
    assert (len(model.memory.bank) > 0) == update


def test_ablations_and_registry(text_encoder, scene):
    full = parameter_counts(build(small_cfg(use_images=False), text_encoder))
    full = full["without_text_encoder"]
    for change in ({"use_dcma": False}, {"use_memory": False}, {"ssm": "mamba"}):
        cfg = small_cfg(use_images=False, **change)
        torch.manual_seed(0)
        model = build_model(cfg, text_encoder=text_encoder).eval()
        assert isinstance(model, MRCosmo)
        with torch.no_grad():
            raw = model(prepare_frame(scene.points, scene.colors, cfg), text_encoder("a box"))
        assert raw["mask_logits"].shape == (cfg.num_queries, len(scene.points))
        assert ("text_emb" in raw) == cfg.use_dcma
        if change != {"ssm": "mamba"}:
            assert parameter_counts(model)["without_text_encoder"] < full
    with pytest.raises(KeyError, match="mrcosmo"):
        build_model(small_cfg(arch="pointnet"), text_encoder=text_encoder)


def _raw_with(k: int, n: int, ref: list[float], masks: np.ndarray) -> dict[str, torch.Tensor]:
    return {"box_center": torch.zeros(k, 3), "box_size": torch.ones(k, 3),
            "box_yaw": torch.zeros(k), "ref_logit": torch.tensor(ref),
            "class_logits": torch.eye(k, 3), "mask_logits": torch.from_numpy(masks).float()}


def test_decode_zero_multi_and_duplicate_targets():
    cfg = DecisionConfig(score_threshold=0.5, mask_threshold=0.5, dedup_overlap=0.5)
    frame = {"xyz": torch.zeros(6, 3), "origin": torch.tensor([1.0, 2.0, 3.0])}
    masks = np.full((3, 6), -5.0)
    masks[0, :3] = 5.0
    masks[1, :3] = 4.0  # the same object as slot 0, lower score: a duplicate
    masks[2, 4:] = 5.0
    none = decode(_raw_with(3, 6, [-3.0, -2.0, -1.0], masks), frame, cfg, "nothing", CLASS_NAMES)
    assert none.no_target and not none.union_mask().any()
    res = decode(_raw_with(3, 6, [3.0, 2.0, 1.0], masks), frame, cfg, "boxes", CLASS_NAMES)
    assert [t.point_indices.tolist() for t in res.targets] == [[0, 1, 2], [4, 5]]
    assert [t.label for t in res.targets] == ["table", "cylinder"]
    np.testing.assert_allclose(res.targets[0].box_center, [1.0, 2.0, 3.0])
    assert res.targets[0].score > res.targets[1].score
    with pytest.raises(ValueError, match="mask_logits"):
        decode(_raw_with(3, 6, [1.0] * 3, masks[:, :5]), frame, cfg, "the objects", CLASS_NAMES)
    with pytest.raises(ValueError, match="dedup_overlap"):
        DecisionConfig(dedup_overlap=1.5)


def test_decode_drops_a_slot_on_a_part_of_a_kept_target():
    """A slot covering 2 of a kept target's 6 points (IoU 1/3) is the same object; one
    that reaches mostly outside the kept targets is another."""
    frame = {"xyz": torch.zeros(10, 3), "origin": torch.zeros(3)}
    masks = np.full((3, 10), -5.0)
    masks[0, :6] = 5.0
    masks[1, :2] = 5.0  # a part of slot 0's object
    masks[2, 5:10] = 5.0  # one point shared with slot 0, four of its own
    raw = _raw_with(3, 10, [3.0, 2.0, 1.0], masks)
    res = decode(raw, frame, DecisionConfig(dedup_overlap=0.5), "the objects",
                 CLASS_NAMES)
    assert [t.point_indices.tolist() for t in res.targets] == [list(range(6)), [5, 6, 7, 8, 9]]
    lenient = decode(raw, frame, DecisionConfig(dedup_overlap=1.0), "the objects",
                     CLASS_NAMES)
    assert len(lenient.targets) == 3
