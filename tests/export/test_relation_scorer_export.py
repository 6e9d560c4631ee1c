"""A slot scorer that reads relations exports with its two phrase inputs: the graph takes
``text_phrases`` / ``text_relation``, onnxruntime matches torch, and the relation input
reaches the scorer's answer (another relation, other slot logits)."""

from __future__ import annotations

import onnx
import pytest
import torch

from query3d.config import load_config
from query3d.model.checkpoint import save_checkpoint
from query3d.model.encoders.phrases import RELATIONS
from query3d.model.export.frame_graph import export_frame_graph
from query3d.model.mrcosmo import EXPORT_OUTPUTS, build_model
from query3d.model.runtime.backends import OnnxRuntimeBackend
from query3d.model.runtime.segmenter import Segmenter

pytestmark = pytest.mark.slow
LAYERS = {"voxel_transformer_layers": 1, "encoder_layers": 1, "decoder_layers": 1,
          "mask_refine_iters": 1}


@pytest.mark.parametrize(("peers", "colour_namer", "words", "histogram"),
                         [(False, False, [], False), (True, False, [], False),
                          (False, True, ["tin", "pot"], False), (False, True, [], True)])
def test_the_relation_inputs_export_and_reach_the_scorer(tmp_path, peers: bool,
                                                         colour_namer: bool,
                                                         words: list[str],
                                                         histogram: bool) -> None:
    cfg = load_config("small", overrides={"model": {
        **LAYERS, "semantic_head": True, "slot_scorer": True, "slot_scorer_relations": True,
        "slot_scorer_peers": peers, "slot_scorer_colour_namer": colour_namer,
        "slot_scorer_words": words, "slot_scorer_colour_histogram": histogram}})
    torch.manual_seed(0)
    net = build_model(cfg.model, text_encoder=None)
    assert net.slot_scorer.names.shape[0] == cfg.model.num_classes + len(words)
    with torch.no_grad():  # word tables as training sets them: unit rows, distinct words
        scorer = net.slot_scorer
        scorer.names.copy_(torch.nn.functional.normalize(torch.randn_like(scorer.names), dim=-1))
        scorer.colour_names.copy_(torch.nn.functional.normalize(
            torch.randn_like(scorer.colour_names), dim=-1))
    checkpoint = save_checkpoint(tmp_path / "relations.pt", net, cfg,
                                 extra={"class_names": [f"c{i}" for i in
                                                        range(cfg.model.num_classes)]})
    seg = Segmenter(checkpoint, backend="torch")
    features = seg.text_cache("the box behind the red box")
    assert features.relation[0].argmax() == RELATIONS.index("behind")
    assert features.phrases.shape == (1, 2, cfg.model.text_dim)
    inputs = seg.example(False, num_points=2048)
    path = export_frame_graph(seg.net, seg.deployment, inputs, tmp_path / "rel.onnx",
                              EXPORT_OUTPUTS)
    dims = {vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
            for vi in onnx.load(str(path)).graph.input}
    assert dims["text_phrases"] == [2, cfg.model.text_dim]
    assert dims["text_relation"] == [1, len(RELATIONS)]

    ort = OnnxRuntimeBackend(path, threads=1)
    inputs["text_phrases"] = features.phrases[0]
    logits = {}
    for relation in ("behind", "left"):
        inputs["text_relation"] = torch.zeros(1, len(RELATIONS))
        inputs["text_relation"][0, RELATIONS.index(relation)] = 1.0
        want = seg.backend(False).run(inputs)["slot_logit"]
        got = ort.run(inputs)["slot_logit"]
        assert float((got - want).abs().max()) <= 1e-3, relation
        logits[relation] = got
    assert float((logits["behind"] - logits["left"]).abs().max()) > 1e-3
