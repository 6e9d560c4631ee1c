"""``Segmenter``: one call from a raw cloud and a sentence to a ``QueryResult``.

Pipeline: the point policy (drop non-finite points, keeping the map back to the input
rows; the network sees at most ``network_points`` of them, every point is labelled) ->
``prepare_frame`` (index structures, outside the graph) -> text features (cached per
command string) -> the frame graph on the chosen backend -> ``decode``. Each stage is
timed into ``QueryResult.timings_ms`` so latency can be attributed, not guessed.

A checkpoint answers at once with torch; with onnxruntime or tensorrt its graphs are
exported in the background (``GraphExporter``), an exported one is served directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from query3d.config import DecisionConfig, ModelConfig, RuntimeConfig
from query3d.model.checkpoint import CheckpointError, load_checkpoint
from query3d.model.deployment import Deployment
from query3d.model.encoders import TextEncoder, TextFeatures
from query3d.model.export.frame_graph import (
    FrameGraph,
    NewestEncoding,
    frame_graph_input_names,
    graph_inputs,
    text_encoder_identity,
)
from query3d.model.export.onnx_export import read_onnx_metadata
from query3d.model.heads.semantic import parse_class_list
from query3d.model.mrcosmo import EXPORT_OUTPUTS, build_model
from query3d.model.output import QueryResult, SemanticResult
from query3d.model.postprocess import decode
from query3d.model.preprocess import finite_points, prepare_frame
from query3d.model.runtime.backends import Backend, TorchBackend, graph_backend, select_backend
from query3d.model.runtime.density import nearest_seen, network_subset, propagate_targets
from query3d.model.runtime.graphs import GRAPH_FILES, GraphExporter, weights_key
from query3d.model.runtime.labeller import SemanticLabeller
from query3d.model.runtime.profile import tensorrt_profile
from query3d.model.runtime.scenes import overhead_camera, tabletop_cloud
from query3d.model.runtime.text_cache import TextFeatureCache

log = logging.getLogger(__name__)


class Segmenter:
    """A served network: a checkpoint (any backend) or exported ONNX (onnxruntime /
    tensorrt).

    ``source``: a checkpoint file, an ``.onnx`` graph written by ``query3d export``, or the
    folder ``query3d export`` wrote. ``runtime``: how to serve it (``runtime.backend``
    unless ``backend`` is given). ``auto`` is torch for a checkpoint (no export to wait
    for) and TensorRT where it runs, else onnxruntime, for an exported graph.
    """

    def __init__(self, source: str | Path, backend: str | None = None,
                 runtime: RuntimeConfig | None = None) -> None:
        self.source = Path(source).expanduser()
        self.runtime = runtime if runtime is not None else RuntimeConfig()
        self.net: torch.nn.Module | None = None
        self.graphs: dict[bool, Path] = {}
        self.semantic_info: dict[str, Any] | None = None  # what the semantic head learnt
        if self.source.is_dir() or self.source.suffix == ".onnx":
            self._load_onnx(self.source)
        else:
            self._load_checkpoint(self.source)
        requested = backend or self.runtime.backend
        if requested == "auto" and self.net is not None:
            requested = "torch"
        self.backend_name = select_backend(requested)
        if self.backend_name == "torch" and self.net is None:
            raise ValueError("the torch backend needs a checkpoint, not an exported graph")
        self.text_encoder = self._text_encoder()
        self.text_cache = TextFeatureCache(self._encode_text, self.runtime.text_cache_size)
        self._backends: dict[bool, Backend] = {}
        self._lock = threading.Lock()  # the exporter thread installs graphs as they finish
        self._compute = threading.Lock()  # one frame / network run at a time
        self._last_frame: tuple[str, Any] | None = None  # (cloud fingerprint, its frame)
        self._last_nearest: tuple[str, np.ndarray] | None = None
        self._encodings = NewestEncoding()  # its encoders' output, for commands and labels
        self.exporter: GraphExporter | None = None
        self.labeller: SemanticLabeller | None = None
        if self.net is not None and self.backend_name != "torch":
            self.exporter = GraphExporter(self.source, self._weights_key,
                                          self.runtime.onnx_cache_dir, self._graph_ready,
                                          split=self.backend_name == "onnxruntime")

    # ------------------------------------------------------------------ loading
    def _load_checkpoint(self, path: Path) -> None:
        cfg, payload = load_checkpoint(path)
        net = build_model(cfg.model, text_encoder=None if cfg.model.freeze_text else True)
        try:
            net.load_state_dict(payload["model"])
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint {path} does not fit its network: {exc}") from exc
        self.net = net.eval()
        self.deployment = Deployment.from_checkpoint(cfg, payload)
        self.semantic_info = (payload.get("extra") or {}).get("semantic")
        self._weights_key = weights_key(payload["config"], payload["model"])

    def _load_onnx(self, source: Path) -> None:
        files = [source] if source.is_file() else [source / f for f in GRAPH_FILES.values()]
        for path in files:
            if not path.is_file():
                continue
            meta = read_onnx_metadata(path)
            self.deployment = Deployment.from_dict(meta["deployment"])
            self.graphs[bool(meta.get("with_images"))] = path
            self._onnx_text_identity = meta["text_encoder"]
        if not self.graphs:
            raise ValueError(f"{source} holds no exported query3d graph ({GRAPH_FILES})")

    @property
    def model_cfg(self) -> ModelConfig:
        return self.deployment.model

    @property
    def decision(self) -> DecisionConfig:
        return self.deployment.decision

    @property
    def has_semantic_head(self) -> bool:
        """``label`` can answer: a checkpoint with a trained semantic head."""
        return self.net is not None and getattr(self.net, "semantic", None) is not None

    @property
    def class_names(self) -> list[str]:
        return self.deployment.class_names

    def _text_encoder(self) -> TextEncoder:
        if self.net is None and not self.model_cfg.freeze_text:
            raise ValueError(
                "this graph was trained with a fine-tuned text encoder whose "
                "weights live in the checkpoint: serve the checkpoint instead"
            )
        if self.net is not None and self.net.text_module() is not None:
            return self.net.text_module()
        if self.net is None and self._onnx_text_identity != text_encoder_identity(self.model_cfg):
            raise ValueError(
                f"the graph was exported with text encoder {self._onnx_text_identity}, but "
                f"this machine resolves {text_encoder_identity(self.model_cfg)}"
            )
        return TextEncoder(self.model_cfg).eval()

    def _encode_text(self, text: str) -> TextFeatures:
        with torch.inference_mode():
            return self.text_encoder(text, phrases=self.model_cfg.slot_scorer_relations)

    # ------------------------------------------------------------------ backends
    def example(self, with_images: bool, num_points: int = 2048) -> dict[str, torch.Tensor]:
        """Graph inputs of a procedural tabletop frame (export examples, warm-up, bench)."""
        points, colors = tabletop_cloud(num_points, seed=0)
        cameras = [overhead_camera(*self.model_cfg.image_size), overhead_camera(seed=1)]
        frame = prepare_frame(
            points, colors, self.model_cfg, cameras=cameras if with_images else None
        )
        return graph_inputs(frame, self.text_cache("example"), self.model_cfg.num_seeds)

    def backend(self, with_images: bool) -> Backend:
        """The graph runner for frames with or without camera images. A checkpoint served
        with onnxruntime / TensorRT runs on torch until its graph has been exported."""
        made = self._backends.get(with_images)
        if made is not None:
            return made
        with self._lock:
            if with_images not in self._backends:
                self._backends[with_images] = self._first_backend(with_images)
            return self._backends[with_images]

    def _first_backend(self, with_images: bool) -> Backend:
        if self.exporter is not None:
            cached = self.exporter.cached(with_images)
            if cached is not None:
                self.graphs[with_images] = cached
            else:
                self.exporter.start(with_images)
                return self._torch_backend(with_images)
        if self.backend_name == "torch":
            return self._torch_backend(with_images)
        if with_images not in self.graphs:
            raise ValueError(f"no exported graph {'with' if with_images else 'without'} "
                             f"images in {self.source}; re-export")
        return self._graph_backend(self.graphs[with_images], with_images)

    def _torch_backend(self, with_images: bool) -> Backend:
        names = frame_graph_input_names(len(self.model_cfg.voxel_scales), with_images,
                                        self.model_cfg.use_superpoints,
                                        self.model_cfg.slot_scorer_relations)
        graph = FrameGraph(self.net, names, EXPORT_OUTPUTS, encodings=self._encodings)
        return TorchBackend(graph, names, EXPORT_OUTPUTS)

    def _graph_backend(self, path: Path, with_images: bool) -> Backend:
        return graph_backend(self.backend_name, path, self.runtime,
                             lambda: tensorrt_profile(self.model_cfg, self.runtime, with_images))

    def _graph_ready(self, with_images: bool, path: Path) -> None:
        """Exporter thread: load the finished graph and swap it in for torch."""
        made = self._graph_backend(path, with_images)
        with self._lock:
            self.graphs[with_images] = path
            self._backends[with_images] = made
        log.info("%s graph ready: now serving %s (%s)",
                 "camera" if with_images else "points-only", self.backend_name, path.name)

    def serving(self, with_images: bool = False) -> str:
        """The backend that answers such a frame now (torch while an export runs)."""
        made = self._backends.get(with_images)
        return made.name if made is not None else "not started"

    def warmup(self, with_images: bool = False) -> None:
        """Run the graph once (and start its export, where one is due) so the first
        frame pays no one-off cost."""
        self.backend(with_images).run(self.example(with_images))

    def describe(self) -> str:
        return (f"{self.source.name} ({self.deployment.preset}, {self.backend_name}, "
                f"network sees {self.network_points or 'all'} points, "
                f"text cache {self.runtime.text_cache_size})")

    # ------------------------------------------------------------------ inference
    @property
    def network_points(self) -> int:
        """Points the network sees at most (0: all); -1 in the config = training density."""
        limit = self.runtime.network_points
        return self.deployment.network_points if limit < 0 else limit

    def _frame(self, points: Any, colors: Any, images: Any, cameras: Any) -> tuple[str, Any]:
        """(fingerprint, ``prepare_frame``) of a cloud, reused while the same cloud (and
        views) comes again: a second command on it pays no preprocessing (superpoints, kNN,
        voxels), and the torch backend keeps its text-free encoders' output under the key."""
        views = [] if not cameras else [
            (c.K, c.T_world_cam, c.image if images is None else None, getattr(c, "depth", None))
            for c in cameras]
        key = _fingerprint(points, colors, *[a for v in views for a in v],
                           *(images or []))
        last = self._last_frame
        if last is not None and last[0] == key:
            return last
        frame = prepare_frame(points, colors, self.model_cfg, images=images, cameras=cameras)
        self._last_frame = (key, frame)  # the newest cloud only: bounded memory
        return key, frame

    def _nearest(self, kept_points: Any, subset: np.ndarray) -> np.ndarray:
        """``nearest_seen``, searched once per cloud (the newest one is kept; the subset
        the network sees is drawn from the kept points alone, so they name it)."""
        key = _fingerprint(kept_points)
        last = self._last_nearest
        if last is None or last[0] != key:
            last = self._last_nearest = (key, nearest_seen(_numpy(kept_points), subset))
        return last[1]

    def _network_cloud(self, points: Any, colors: Any) -> tuple[Any, ...] | None:
        """The point policy of every query: (finite points, their input rows, the points
        and colours the network sees, the subset taken or None); None when fewer than
        two points are finite."""
        kept_points, kept_colors, kept = finite_points(points, colors)
        if len(kept) < 2:
            return None
        subset = network_subset(len(kept), self.network_points)
        net_points, net_colors = kept_points, kept_colors
        if subset is not None:
            net_points = _take(kept_points, subset)
            net_colors = None if kept_colors is None else _take(kept_colors, subset)
        return kept_points, kept, net_points, net_colors, subset

    def label(self, points: Any, colors: Any | None = None, images: Any | None = None,
              cameras: Any | None = None, classes: str | list[str] = "",
              seen_penalty: float = 0.0) -> SemanticResult:
        """One of ``classes`` (a list, or names separated by commas) for every input point:
        open-vocabulary semantic labels from the same network and frame as ``segment``.
        Non-finite points are labelled -1; points beyond the network's density take
        their nearest seen point's label. ``seen_penalty``: cosine similarity taken off
        the names the head trained on, which lets names it never saw win where they fit
        as well."""
        start = time.perf_counter()
        names = parse_class_list(classes)
        labels = np.full(len(points), -1, np.int64)
        scores = np.zeros(len(points), np.float32)
        cloud = self._network_cloud(points, colors)
        if cloud is None:
            return SemanticResult(names, labels, scores, {"total": 0.0})
        kept_points, kept, net_points, net_colors, subset = cloud
        if self.labeller is None:
            if self.net is None:
                raise ValueError("semantic labels need a checkpoint: exported graphs "
                                 "carry the referring network only")
            info = self.semantic_info or {}
            self.labeller = SemanticLabeller(  # a names-only head never reads images
                self.net, self.text_encoder, self._encodings,
                use_image=bool(info.get("use_image", True)),
                trained_names=list(info.get("trained_names", [])))
        with_images = bool(cameras) and self.model_cfg.use_images
        with self._compute:
            key, frame = self._frame(net_points, net_colors, images,
                                     cameras if with_images else None)
            t_pre = time.perf_counter()
            best, label = self.labeller.probabilities(frame, key, names,
                                                      seen_penalty).max(dim=-1)
        label_np, best_np = label.numpy(), best.numpy().astype(np.float32)
        if subset is not None:
            nearest = self._nearest(kept_points, subset)
            label_np, best_np = label_np[nearest], best_np[nearest]
        labels[kept], scores[kept] = label_np, best_np
        t_end = time.perf_counter()
        return SemanticResult(names, labels, scores, {
            "preprocess": (t_pre - start) * 1e3, "network": (t_end - t_pre) * 1e3,
            "total": (t_end - start) * 1e3})

    def segment(
        self,
        points: Any,
        colors: Any | None = None,
        images: Any | None = None,
        cameras: Any | None = None,
        text: str = "",
        score_threshold: float | None = None,
        mask_threshold: float | None = None,
        min_target_points: int = 1,
        limit_by_grammar: bool | None = None,
        split_gap: float | None = None,
        superlative_share: float | None = None,
        superlative_threshold: float | None = None,
    ) -> QueryResult:
        """Targets that ``text`` refers to; point indices index the *input* ``points``.

        Every input row is answered for: non-finite points never belong to a target, and
        points beyond the network's density take the mask of their nearest seen point."""
        start = time.perf_counter()
        total = len(points)
        cloud = self._network_cloud(points, colors)
        if cloud is None:
            return QueryResult(text=text, num_points=total, timings_ms={"preprocess": 0.0})
        kept_points, kept, net_points, net_colors, subset = cloud
        with_images = bool(cameras) and self.model_cfg.use_images
        with self._compute:  # a node labels and segments from two threads
            key, frame = self._frame(net_points, net_colors, images,
                                     cameras if with_images else None)
            t_pre = time.perf_counter()
            features = self.text_cache(text)
            t_text = time.perf_counter()
            inputs = graph_inputs(frame, features, self.model_cfg.num_seeds)
            outputs = self.backend(with_images).run(inputs, frame_key=key)
        t_net = time.perf_counter()
        overrides = {k: v for k, v in (
            ("score_threshold", score_threshold), ("mask_threshold", mask_threshold),
            ("limit_by_grammar", limit_by_grammar), ("split_gap", split_gap),
            ("superlative_share", superlative_share),
            ("superlative_threshold", superlative_threshold)) if v is not None}
        decision = dataclasses.replace(self.decision, **overrides)
        result = decode(outputs, frame, decision, text, self.class_names)
        if subset is not None and result.targets:
            propagate_targets(result.targets, self._nearest(kept_points, subset),
                              len(net_points))
        targets = [t for t in result.targets if len(t.point_indices) >= min_target_points]
        for new_id, target in enumerate(targets):
            target.target_id = new_id
            target.point_indices = kept[target.point_indices].astype(np.int64)
        t_post = time.perf_counter()
        result.targets, result.num_points = targets, total
        result.timings_ms = {
            "preprocess": (t_pre - start) * 1e3,
            "text": (t_text - t_pre) * 1e3,
            "network": (t_net - t_text) * 1e3,
            "postprocess": (t_post - t_net) * 1e3,
            "total": (t_post - start) * 1e3,
        }
        return result


def _fingerprint(*arrays: Any) -> str:
    """Content hash of a cloud (and its camera views): the same cloud asked twice is
    recognised whatever object holds it."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            digest.update(b"-")
            continue
        data = _numpy(array)
        digest.update(str((data.shape, data.dtype)).encode())
        digest.update(np.ascontiguousarray(data).view(np.uint8).reshape(-1))
    return digest.hexdigest()


def _take(values: Any, index: np.ndarray) -> Any:
    if torch.is_tensor(values):
        return values[torch.from_numpy(index).to(values.device)]
    return values[index]


def _numpy(values: Any) -> np.ndarray:
    return values.detach().cpu().numpy() if torch.is_tensor(values) else np.asarray(values)
