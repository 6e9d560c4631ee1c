"""A small real frame graph for the export and runtime tests.

``GatherAttentionNet`` has the structure the MR-COSMO frame graph has (gathers through
precomputed index tensors with a pad row, grouped attention, a matmul against text
features, a top-k selection) and a dynamic point count N plus a derived group count G,
so the exporter, the TensorRT checks and the backends are tested on the same kinds of
ops before and independently of the full network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

OUTPUT_NAMES = ["point_logits", "query_scores", "box"]
DYNAMIC_AXES = {
    "xyz": {0: "N"},
    "rgb": {0: "N"},
    "knn": {0: "N"},
    "groups": {0: "G"},
    "inverse": {0: "N"},
}
GROUP_SIZE = 8
# TensorRT optimisation profile of the toy graph: G = ceil(N / GROUP_SIZE).
TOY_PROFILE = {"N": (100, 20000, 200000), "G": (13, 2500, 25000)}
K = 4


class GatherAttentionNet(nn.Module):
    def __init__(self, dim: int = 32, text_dim: int = 24, queries: int = 6) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(6, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.attention = nn.MultiheadAttention(dim, 4, batch_first=True)
        self.text = nn.Linear(text_dim, dim)
        self.queries = nn.Parameter(torch.randn(queries, dim) * 0.1)
        self.box = nn.Linear(dim, 6)
        self.norm = nn.LayerNorm(dim)

    def forward(self, xyz, rgb, knn, groups, inverse, text_features):
        feats = self.embed(torch.cat([xyz, rgb], dim=1))  # (N, D)
        padded = torch.cat([feats, feats.new_zeros(1, feats.shape[1])])  # pad row N
        feats = feats + padded[knn].mean(dim=1)  # neighbour pooling through an index
        grouped = padded[groups]  # (G, P, D)
        mask = groups == feats.shape[0]  # padded slots
        attended, _ = self.attention(grouped, grouped, grouped, key_padding_mask=mask)
        # back to the points through the inverse index (each point sits in one slot)
        back = attended.reshape(-1, attended.shape[-1])[inverse]
        feats = self.norm(feats + back)
        text = self.text(text_features).mean(dim=0)  # (D,)
        queries = self.queries + text
        scores = queries @ text  # (Q,)
        best = torch.topk(scores, 1).indices  # (1,)
        query = queries[best]  # (1, D)
        point_logits = (feats @ query.T).squeeze(1) / feats.shape[1] ** 0.5
        weights = torch.softmax(point_logits, dim=0)
        pooled = weights @ feats  # (D,)
        return point_logits, scores.sigmoid(), self.box(pooled)


def make_inputs(num_points: int, seed: int, text_dim: int = 24) -> dict[str, torch.Tensor]:
    """A random scene and its index tensors, computed outside the graph as in the runtime."""
    rng = np.random.default_rng(seed)
    xyz = torch.from_numpy(rng.uniform(-1, 1, (num_points, 3)).astype(np.float32))
    rgb = torch.from_numpy(rng.uniform(0, 1, (num_points, 3)).astype(np.float32))
    dist = torch.cdist(xyz, xyz)
    dist.fill_diagonal_(float("inf"))
    knn = torch.topk(dist, K, largest=False).indices
    order = torch.argsort(xyz[:, 0] * 100 + xyz[:, 1])  # a stand-in serialisation order
    groups_count = -(-num_points // GROUP_SIZE)
    slots = torch.full((groups_count * GROUP_SIZE,), num_points, dtype=torch.int64)
    slots[:num_points] = order
    inverse = torch.empty(num_points, dtype=torch.int64)
    inverse[order] = torch.arange(num_points)
    text = torch.from_numpy(rng.normal(size=(3, text_dim)).astype(np.float32))
    return {
        "xyz": xyz,
        "rgb": rgb,
        "knn": knn,
        "groups": slots.reshape(groups_count, GROUP_SIZE),
        "inverse": inverse,
        "text_features": text,
    }


@pytest.fixture(scope="session")
def toy_net() -> GatherAttentionNet:
    torch.manual_seed(0)
    return GatherAttentionNet().eval()


@pytest.fixture(scope="session")
def toy_onnx(toy_net: GatherAttentionNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy net exported once per session at N=400 (tests use other point counts)."""
    from query3d.model.export.onnx_export import export_onnx

    path = tmp_path_factory.mktemp("onnx") / "toy.onnx"
    return export_onnx(
        toy_net,
        make_inputs(400, seed=0),
        OUTPUT_NAMES,
        DYNAMIC_AXES,
        path,
        metadata={"config": {"dim": 32}, "text_encoder": {"name": "toy", "dim": 24}},
    )
