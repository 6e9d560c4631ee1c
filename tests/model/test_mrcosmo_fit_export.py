"""The assembled network learns (a tiny overfit) and its frame graph exports to ONNX."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from _mrcosmo_scene import CLASS_NAMES, overhead_camera, tabletop

from query3d.config import DecisionConfig, LossConfig, ModelConfig, load_config
from query3d.model.encoders import TextEncoder, TextFeatures
from query3d.model.losses import MRCosmoLoss, QueryTargets
from query3d.model.mrcosmo import EXPORT_OUTPUTS, MRCosmo
from query3d.model.postprocess import decode
from query3d.model.preprocess import FrameInputs, prepare_frame

# A reduced network so a few hundred CPU steps fit in seconds on shared cores.
FIT_CFG = ModelConfig(
    dim=32, align_dim=32, heads=2, encoder_layers=1, decoder_layers=1, num_queries=4,
    num_seeds=16, voxel_transformer_layers=1, window_group_size=16, memory_capacity=8,
    use_images=False, mask_refine_iters=1, knn_k=6, num_classes=len(CLASS_NAMES),
    point_mlp_layers=1,
)


@pytest.fixture(scope="module")
def text_encoder() -> TextEncoder:
    return TextEncoder(load_config("small").model)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny ops on shared cores: intra-op threads cost more than they give (3-10x here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("superpoints", [False, True], ids=["points", "superpoints"])
def test_overfits_one_scene_and_query(text_encoder, superpoints):
    scene = tabletop(seed=3, per_object=100, table=200)
    torch.manual_seed(0)
    cfg = dataclasses.replace(FIT_CFG, use_superpoints=superpoints, text_matching=superpoints,
                              voxels_per_superpoint=4)
    model = MRCosmo(cfg, text_encoder=text_encoder)
    frame = prepare_frame(scene.points, scene.colors, cfg)
    text = model.encode_text("the red box")
    truth = scene.instance == 0
    centre, size = scene.box_of(0)
    target = QueryTargets(
        torch.from_numpy(truth)[None], torch.tensor(centre - frame.origin.numpy())[None].float(),
        torch.tensor(size)[None].float(), torch.zeros(1), torch.tensor([CLASS_NAMES.index("box")]))
    criterion = MRCosmoLoss(LossConfig(), FIT_CFG.num_classes)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    losses, iou = [], 0.0
    for step in range(300):
        model.train()
        out = criterion([model(frame, text)], [target])
        optimiser.zero_grad()
        out.total.backward()
        optimiser.step()
        model.update_memory(out.memory_items)
        losses.append(float(out.total.detach()))
        if losses[-1] <= 0.2 * losses[0] and step % 10 == 9:
            model.eval()
            with torch.no_grad():
                result = decode(model(frame, text), frame, DecisionConfig(), "the red box",
                                CLASS_NAMES)
            predicted = result.union_mask()
            iou = (predicted & truth).sum() / max((predicted | truth).sum(), 1)
            if iou > 0.9:
                break
    assert losses[-1] <= 0.2 * losses[0], (losses[0], losses[-1])
    assert iou > 0.9, (iou, step)
    assert len(result.targets) == 1 and result.targets[0].label == "box"
    assert len(model.memory.bank) > 0  # training wrote feature pairs


def _dynamic_axes(names: list[str]) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {"text_tokens": {1: "T"}, "text_mask": {1: "T"},
                                       "mask_logits": {1: "N"}}
    for name in names:
        if name in ("xyz", "rgb", "knn", "superpoint") or name.startswith("point2voxel_"):
            axes[name] = {0: "N"}
        elif name.startswith(("voxel_coords_", "voxel_center_", "voxel_members_")):
            axes[name] = {0: f"V{name[-1]}"}
        elif name == "kmap" or name.startswith("win_inverse"):
            axes[name] = {0: "V0"}
        elif name.startswith("win_groups"):
            axes[name] = {0: name.replace("win_groups", "G")}
        elif name in ("pix_uv", "pix_valid"):
            axes[name] = {0: "N", 1: "C"}
        elif name == "images":
            axes[name] = {0: "C"}
        elif name == "superpoint_members":
            axes[name] = {0: "S"}
    return axes


class FrameGraph(torch.nn.Module):
    """Flat tensors in (frame inputs, then text tokens / mask / pooled), EXPORT_OUTPUTS out."""

    def __init__(self, model: MRCosmo, names: list[str]) -> None:
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        frame = FrameInputs.from_flat(self.names, list(tensors[: len(self.names)]))
        raw = self.model(frame, TextFeatures(*tensors[len(self.names):]))
        return tuple(raw[k] for k in EXPORT_OUTPUTS)


@pytest.mark.filterwarnings("ignore")
def test_frame_graph_exports_to_onnx_opset_17_with_dynamic_points(text_encoder, tmp_path):
    cfg = dataclasses.replace(load_config("small").model, image_size=[48, 64])
    torch.manual_seed(0)
    model = MRCosmo(cfg, text_encoder=text_encoder).eval()
    example = tabletop(seed=1, per_object=60, table=150)
    cameras = [overhead_camera(seed=0), overhead_camera(seed=1)]
    frame = prepare_frame(example.points, example.colors, cfg, cameras=cameras)
    names = frame.names()
    # eval() on the wrapper too: the exporter puts the wrapper's mode back afterwards, and a
    # fresh module is in training mode, which would flip the network's BatchNorms
    graph = FrameGraph(model, names).eval()
    text = model.encode_text("the red box")
    args = tuple(frame.as_dict().values()) + (text.tokens, text.mask, text.pooled)
    input_names = names + ["text_tokens", "text_mask", "text_pooled"]
    path = tmp_path / "frame.onnx"
    with torch.no_grad():
        torch.onnx.export(graph, args, str(path), input_names=input_names,
                          output_names=list(EXPORT_OUTPUTS), opset_version=17, dynamo=False,
                          dynamic_axes=_dynamic_axes(names))
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version == 17

    # a different scene: other point, voxel, window-group, camera and token counts
    other = tabletop(seed=2, per_object=90, table=240)
    frame2 = prepare_frame(other.points, other.colors, cfg, cameras=[overhead_camera(seed=2)])
    text2 = model.encode_text("the green cylinder next to the blue box")
    values = dict(zip(input_names, tuple(frame2.as_dict().values()) +
                      (text2.tokens, text2.mask, text2.pooled)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: values[i.name].numpy() for i in session.get_inputs()}
    got = session.run(list(EXPORT_OUTPUTS), feed)
    with torch.no_grad():
        want = model(frame2, text2)
    assert got[EXPORT_OUTPUTS.index("mask_logits")].shape[1] == len(other.points)
    for name, value in zip(EXPORT_OUTPUTS, got):
        np.testing.assert_allclose(value, want[name].numpy(), atol=1e-3, rtol=1e-3, err_msg=name)
