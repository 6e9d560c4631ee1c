"""``Segmenter``: one call from a raw cloud and a sentence to a ``QueryResult``.

Pipeline: drop non-finite points (keeping the map back to the input rows) ->
``prepare_frame`` (index structures, outside the graph) -> text features (cached per
command string) -> the frame graph on the chosen backend -> ``decode``. Each stage is
timed into ``QueryResult.timings_ms`` so latency can be attributed, not guessed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from query3d.config import Config, config_from_dict
from query3d.model.checkpoint import CheckpointError, load_checkpoint
from query3d.model.encoders import TextEncoder, TextFeatures
from query3d.model.export.frame_graph import (
    FrameGraph,
    export_frame_graph,
    frame_graph_input_names,
    graph_inputs,
    text_encoder_identity,
)
from query3d.model.export.onnx_export import FORMAT_VERSION, read_onnx_metadata
from query3d.model.mrcosmo import EXPORT_OUTPUTS, build_model
from query3d.model.output import QueryResult
from query3d.model.postprocess import decode
from query3d.model.preprocess import finite_points, prepare_frame
from query3d.model.runtime.backends import (
    Backend,
    OnnxRuntimeBackend,
    TensorRTBackend,
    TorchBackend,
    select_backend,
)
from query3d.model.runtime.density import network_subset, propagate_targets
from query3d.model.runtime.profile import tensorrt_profile
from query3d.model.runtime.scenes import tabletop_cloud
from query3d.model.runtime.text_cache import TextFeatureCache

log = logging.getLogger(__name__)
GRAPH_FILES = {False: "frame.onnx", True: "frame_images.onnx"}


def weights_key(config: dict, state: dict[str, torch.Tensor]) -> str:
    """Hash of a network's config and weights: names the graphs exported from it.

    Not the checkpoint file's hash: the file also carries optimiser and RNG state, so the
    same weights saved twice would otherwise be exported twice.
    """
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def graph_code_key() -> str:
    """Hash of the network's source and the torch version: a graph cached by an older
    build of the code (say, before an exact refactor of a layer) is re-exported, never
    silently served."""
    root = Path(__file__).resolve().parents[1]  # query3d.model
    digest = hashlib.sha256(torch.__version__.encode())
    for path in sorted(root.rglob("*.py")):
        if "runtime" not in path.relative_to(root).parts:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


class Segmenter:
    """A served network: checkpoint (any backend) or exported ONNX (onnxruntime/tensorrt).

    ``checkpoint_or_engine``: a checkpoint file, an ``.onnx`` graph written by
    ``query3d export``, or the folder ``query3d export`` wrote. ``config``: its
    ``runtime`` section overrides the saved one (the network sections must match).
    """

    def __init__(
        self, checkpoint_or_engine: str | Path, backend: str = "auto", config: Config | None = None
    ) -> None:
        source = Path(checkpoint_or_engine).expanduser()
        self.net: torch.nn.Module | None = None
        self.graphs: dict[bool, Path] = {}
        self.class_names: list[str] = []
        if source.is_dir() or source.suffix == ".onnx":
            self._load_onnx(source)
        else:
            self._load_checkpoint(source, config)
        if config is not None:
            self.cfg = dataclasses.replace(self.cfg, runtime=config.runtime)
        self.backend_name = select_backend(backend)
        if self.backend_name == "torch" and self.net is None:
            raise ValueError("the torch backend needs a checkpoint, not an exported graph")
        self.source = source
        self.text_encoder = self._text_encoder()
        self.text_cache = TextFeatureCache(self._encode_text, self.cfg.runtime.text_cache_size)
        self._backends: dict[bool, Backend] = {}
        # a node warms the graph on one thread while its first command may arrive on another
        self._backend_lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    def _load_checkpoint(self, path: Path, config: Config | None) -> None:
        cfg, payload = load_checkpoint(path, config)
        net = build_model(cfg.model, text_encoder=None if cfg.model.freeze_text else True)
        try:
            net.load_state_dict(payload["model"])
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint {path} does not fit its network: {exc}") from exc
        self.net, self.cfg = net.eval(), cfg
        self.class_names = list((payload.get("extra") or {}).get("class_names", []))
        self._checkpoint_hash = weights_key(payload["config"], payload["model"])

    def _load_onnx(self, source: Path) -> None:
        files = [source] if source.is_file() else [source / f for f in GRAPH_FILES.values()]
        for path in files:
            if not path.is_file():
                continue
            meta = read_onnx_metadata(path)
            self.cfg = config_from_dict(meta["config"])
            self.class_names = list(meta.get("class_names", []))
            self.graphs[bool(meta.get("with_images"))] = path
            self._onnx_text_identity = meta["text_encoder"]
        if not self.graphs:
            raise ValueError(f"{source} holds no exported query3d graph ({GRAPH_FILES})")

    def _text_encoder(self) -> TextEncoder:
        if self.net is None and not self.cfg.model.freeze_text:
            raise ValueError(
                "this graph was trained with a fine-tuned text encoder whose "
                "weights live in the checkpoint: serve the checkpoint instead"
            )
        if self.net is not None and self.net.text_module() is not None:
            return self.net.text_module()
        if self.net is None and self._onnx_text_identity != text_encoder_identity(self.cfg):
            raise ValueError(
                f"the graph was exported with text encoder {self._onnx_text_identity}, but "
                f"this machine resolves {text_encoder_identity(self.cfg)}"
            )
        return TextEncoder(self.cfg.model).eval()

    def _encode_text(self, text: str) -> TextFeatures:
        with torch.inference_mode():
            return self.text_encoder(text)

    # ------------------------------------------------------------------ backends
    def _graph(self, with_images: bool) -> Path:
        if with_images not in self.graphs:
            if self.net is None:
                raise ValueError(
                    f"no exported graph {'with' if with_images else 'without'} "
                    "images in {self.source}; re-export"
                )
            folder = Path(self.cfg.runtime.onnx_cache_dir).expanduser()
            name = (f"{self._checkpoint_hash}-{graph_code_key()}-v{FORMAT_VERSION}-"
                    f"{GRAPH_FILES[with_images]}")
            path = folder / name
            if not path.is_file():
                log.info("exporting the frame graph to %s (once per checkpoint)", path)
                export_frame_graph(
                    self.net,
                    self.cfg,
                    self.example(with_images),
                    path,
                    EXPORT_OUTPUTS,
                    extra_metadata={"class_names": self.class_names},
                )
            self.graphs[with_images] = path
        return self.graphs[with_images]

    def example(self, with_images: bool, num_points: int = 2048) -> dict[str, torch.Tensor]:
        """Graph inputs of a procedural tabletop frame (export examples, warm-up, bench)."""
        from query3d.model.runtime.scenes import overhead_camera

        points, colors = tabletop_cloud(num_points, seed=0)
        cameras = [overhead_camera(*self.cfg.model.image_size), overhead_camera(seed=1)]
        frame = prepare_frame(
            points, colors, self.cfg.model, cameras=cameras if with_images else None
        )
        return graph_inputs(frame, self.text_cache("example"), self.cfg.model.num_seeds)

    def backend(self, with_images: bool) -> Backend:
        """The graph runner for frames with or without camera images, made once. A graph
        that exists is returned without the lock: the other graph's export (a minute) must
        not hold up frames that do not need it."""
        made = self._backends.get(with_images)
        if made is not None:
            return made
        with self._backend_lock:
            if with_images not in self._backends:
                self._backends[with_images] = self._make_backend(with_images)
            return self._backends[with_images]

    def _make_backend(self, with_images: bool) -> Backend:
        runtime = self.cfg.runtime
        if self.backend_name == "torch":
            names = frame_graph_input_names(len(self.cfg.model.voxel_scales), with_images)
            module = FrameGraph(self.net, names, EXPORT_OUTPUTS)
            made: Backend = TorchBackend(module, names, EXPORT_OUTPUTS)
        elif self.backend_name == "onnxruntime":
            made = OnnxRuntimeBackend(self._graph(with_images), threads=runtime.intra_op_threads)
        else:
            made = TensorRTBackend(
                self._graph(with_images),
                runtime.engine_cache_dir,
                runtime.trt_precision,
                tensorrt_profile(self.cfg, with_images),
                runtime.trt_workspace_mb,
            )
        return made

    def warmup(self, with_images: bool = False) -> None:
        """Export / build / load the graph and run it once, so the first frame is not slow."""
        self.backend(with_images).run(self.example(with_images))

    def describe(self) -> str:
        return (
            f"{self.source.name} ({self.cfg.preset}, {self.backend_name}, "
            f"text cache {self.cfg.runtime.text_cache_size})"
        )

    # ------------------------------------------------------------------ inference
    @property
    def network_points(self) -> int:
        """Points the network sees at most (0: all); -1 in the config = training density."""
        limit = self.cfg.runtime.network_points
        return self.cfg.data.max_points if limit < 0 else limit

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
    ) -> QueryResult:
        """Targets that ``text`` refers to; point indices index the *input* ``points``."""
        start = time.perf_counter()
        total = len(points)
        kept_points, kept_colors, kept = finite_points(points, colors)
        if len(kept) > self.cfg.runtime.max_points:
            raise ValueError(
                f"{len(kept)} finite points exceed runtime.max_points="
                f"{self.cfg.runtime.max_points}; subsample the cloud first"
            )
        if len(kept) < 2:
            return QueryResult(text=text, num_points=total, timings_ms={"preprocess": 0.0})
        with_images = bool(cameras) and self.cfg.model.use_images
        subset = network_subset(len(kept), self.network_points)
        net_points, net_colors = kept_points, kept_colors
        if subset is not None:
            net_points = _take(kept_points, subset)
            net_colors = None if kept_colors is None else _take(kept_colors, subset)
        frame = prepare_frame(
            net_points,
            net_colors,
            self.cfg.model,
            images=images,
            cameras=cameras if with_images else None,
        )
        t_pre = time.perf_counter()
        features = self.text_cache(text)
        t_text = time.perf_counter()
        inputs = graph_inputs(frame, features, self.cfg.model.num_seeds)
        outputs = self.backend(with_images).run(inputs)
        t_net = time.perf_counter()
        model_cfg = self.cfg.model
        overrides = {"score_threshold": score_threshold, "mask_threshold": mask_threshold}
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if overrides:
            model_cfg = dataclasses.replace(model_cfg, **overrides)
        result = decode(outputs, frame, model_cfg, text, self.class_names)
        if subset is not None:
            propagate_targets(result.targets, _numpy(net_points), _numpy(kept_points))
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


def _take(values: Any, index: np.ndarray) -> Any:
    if torch.is_tensor(values):
        return values[torch.from_numpy(index).to(values.device)]
    return values[index]


def _numpy(values: Any) -> np.ndarray:
    return values.detach().cpu().numpy() if torch.is_tensor(values) else np.asarray(values)
