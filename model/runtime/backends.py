"""Backends that run the frame graph: torch eager, ONNX Runtime, TensorRT.

All three take the same named input tensors (``FrameInputs.as_dict()`` plus the text
features) and return the same named outputs as CPU torch tensors, so the ``Segmenter``
and the parity tests never care which one ran.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from query3d.config import RuntimeConfig
from query3d.model.export.errors import BackendUnavailable
from query3d.model.export.split_graph import encoder_beside, split_paths

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnxruntime", "tensorrt")


class Backend(ABC):
    """One way of running the frame graph."""

    name: str
    input_names: list[str]
    output_names: list[str]

    @abstractmethod
    def run(self, inputs: Mapping[str, torch.Tensor], frame_key: str | None = None
            ) -> dict[str, torch.Tensor]:
        """Named CPU output tensors for named input tensors (extra inputs are ignored).
        ``frame_key`` names the cloud (its fingerprint): a backend that can keep the
        text-free part of a frame reuses it while the key stays the same."""

    def _gather(self, inputs: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"{self.name} backend: missing inputs {missing}")
        return [inputs[n] for n in self.input_names]


class TorchBackend(Backend):
    """Eager torch on the module that is exported (same inputs, same outputs)."""

    name = "torch"

    def __init__(
        self,
        module: torch.nn.Module,
        input_names: Sequence[str],
        output_names: Sequence[str],
        device: str | torch.device = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()
        self.input_names = list(input_names)
        self.output_names = list(output_names)

    def run(self, inputs: Mapping[str, torch.Tensor], frame_key: str | None = None
            ) -> dict[str, torch.Tensor]:
        args = [t.to(self.device) for t in self._gather(inputs)]
        cached = getattr(self.module, "run_cached", None)
        with torch.inference_mode():
            if frame_key is not None and cached is not None:
                outputs = cached(args, frame_key)
            else:
                outputs = self.module(*args)
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        if len(outputs) != len(self.output_names):
            raise RuntimeError(
                f"module returned {len(outputs)} outputs, expected {self.output_names}"
            )
        return {n: t.cpu() for n, t in zip(self.output_names, outputs)}


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime with all graph optimisations; CUDA EP when this onnxruntime has it."""

    name = "onnxruntime"

    def __init__(self, onnx_path: str | Path, threads: int = 0, use_cuda: bool = True) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads)  # 0 = one per physical core
        options.inter_op_num_threads = 1  # the graph is one chain; parallelism is intra-op
        # idle threads sleep instead of spinning: between runs the same cores preprocess
        # the next cloud and run the other part's session (encoder / text); spinning
        # threads took them (20k points, 2 cores: first command 167-179 -> 120-132 ms,
        # a second one 55 -> 43 ms)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # ORT's warnings about shape merges are noise here
        available = ort.get_available_providers()
        providers = ["CPUExecutionProvider"]
        if use_cuda and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=providers)
        self.providers = self.session.get_providers()
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        log.info("onnxruntime session on %s (%s)", self.providers[0], Path(onnx_path).name)

    def run(self, inputs: Mapping[str, torch.Tensor], frame_key: str | None = None
            ) -> dict[str, torch.Tensor]:
        feeds = {
            n: t.detach().cpu().contiguous().numpy()
            for n, t in zip(self.input_names, self._gather(inputs))
        }
        outputs = self.session.run(self.output_names, feeds)
        return {n: torch.from_numpy(a) for n, a in zip(self.output_names, outputs)}


class SplitOnnxRuntimeBackend(Backend):
    """The encoder and text graphs (``export.split_graph``) in two ONNX Runtime sessions:
    the encoder runs once per cloud (``frame_key``), its outputs kept for the commands that
    follow on the same cloud."""

    name = "onnxruntime"

    def __init__(self, encoder_path: str | Path, text_path: str | Path, threads: int = 0,
                 use_cuda: bool = True) -> None:
        self.encoder = OnnxRuntimeBackend(encoder_path, threads, use_cuda)
        self.text = OnnxRuntimeBackend(text_path, threads, use_cuda)
        self.providers = self.text.providers
        self.input_names = [n for n in self.text.input_names if not n.startswith("enc_")]
        self.output_names = self.text.output_names
        self._encoded: tuple[str | None, dict[str, torch.Tensor]] | None = None
        self.encoder_runs = 0  # how often a cloud was encoded (tests, diagnostics)

    def run(self, inputs: Mapping[str, torch.Tensor], frame_key: str | None = None
            ) -> dict[str, torch.Tensor]:
        cached = self._encoded
        if frame_key is None or cached is None or cached[0] != frame_key:
            cached = self._encoded = (frame_key, self.encoder.run(inputs))
            self.encoder_runs += 1
        return self.text.run({**inputs, **cached[1]})


class TensorRTBackend(Backend):
    """A cached TensorRT engine built from the ONNX file; outputs copied back to the CPU."""

    name = "tensorrt"

    def __init__(
        self,
        onnx_path: str | Path,
        cache_dir: str | Path,
        precision: str,
        profile: Mapping[str, tuple[int, int, int]],
        workspace_mb: int,
    ) -> None:
        from query3d.model.export.tensorrt_engine import load_runner

        # a stale or unloadable cached engine is rebuilt (logged), never a crash
        self.engine_path, self.runner = load_runner(onnx_path, cache_dir, precision, profile,
                                                    workspace_mb)
        self.input_names = list(self.runner.input_names)
        self.output_names = list(self.runner.output_names)

    def run(self, inputs: Mapping[str, torch.Tensor], frame_key: str | None = None
            ) -> dict[str, torch.Tensor]:
        outputs = self.runner.run(dict(zip(self.input_names, self._gather(inputs))))
        return {n: t.cpu() for n, t in outputs.items()}  # .cpu() waits for the stream


def tensorrt_unavailable_reason() -> str | None:
    """None where TensorRT can run here, else why not."""
    try:
        from query3d.model.export.tensorrt_engine import import_tensorrt

        import_tensorrt()
    except BackendUnavailable as exc:
        return exc.reason
    return None


def select_backend(requested: str = "auto") -> str:
    """Resolve ``auto`` (TensorRT where it imports and CUDA exists, else onnxruntime).

    An explicit ``tensorrt`` on a machine without it raises BackendUnavailable instead of
    quietly running something slower than the operator asked for.
    """
    if requested not in (*BACKENDS, "auto"):
        raise ValueError(f"backend {requested!r}; choose auto or one of {', '.join(BACKENDS)}")
    if requested == "tensorrt":
        reason = tensorrt_unavailable_reason()
        if reason is not None:
            raise BackendUnavailable("tensorrt", reason)
    if requested != "auto":
        return requested
    reason = tensorrt_unavailable_reason()
    if reason is None:
        log.info("backend auto: using tensorrt")
        return "tensorrt"
    log.info("backend auto: tensorrt unavailable (%s); using onnxruntime", reason)
    return "onnxruntime"


def graph_backend(name: str, path: Path, runtime: RuntimeConfig,
                  profile: Callable[[], Mapping[str, tuple[int, int, int]]]) -> Backend:
    """The ``name`` backend on the exported graph at ``path``; ``profile`` gives the
    TensorRT optimisation profile (asked only for TensorRT)."""
    if name == "onnxruntime":
        encoder = encoder_beside(path)
        if encoder is None and all(p.is_file() for p in split_paths(path)):
            encoder, path = split_paths(path)  # a whole graph with its two parts beside it
        if encoder is not None:  # a split graph: its encoder runs once per cloud
            return SplitOnnxRuntimeBackend(encoder, path, runtime.intra_op_threads)
        return OnnxRuntimeBackend(path, threads=runtime.intra_op_threads)
    return TensorRTBackend(path, runtime.engine_cache_dir, runtime.trt_precision, profile(),
                           runtime.trt_workspace_mb)
