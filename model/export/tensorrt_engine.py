"""TensorRT engines from our ONNX graphs: build, cache, run with torch CUDA tensors.

Written against the TensorRT 10 Python API (``tensorrt``). An engine is only valid for
the GPU, TensorRT version, precision and shape profile it was built with, and building
takes minutes, so engines are cached under a key of exactly those plus the ONNX file's
hash (``engine_cache_key``), and rebuilt only when the key changes. Beside each engine a
JSON record says what it was built with and the sha256 of its bytes; an engine whose
record is missing or disagrees (a truncated copy, an engine carried from another
machine), or that TensorRT refuses to deserialize (``load_runner``), is rebuilt with a
log line instead of failing the node. Inference binds torch
CUDA tensors directly (``set_tensor_address`` + ``execute_async_v3`` on torch's current
stream): no pycuda, no host copies beyond what the caller asks for.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnx
import torch

from query3d.model.export.errors import BackendUnavailable
from query3d.model.export.tensorrt_io import (
    TorchOutputAllocator,
    torch_dtype,
    trt_logger,
    trt_progress_monitor,
)

log = logging.getLogger(__name__)

PRECISIONS = ("fp16", "fp32")
DimProfile = Mapping[str, tuple[int, int, int]]  # symbolic dim -> (min, opt, max)


def import_tensorrt() -> Any:
    """The ``tensorrt`` module on a machine that can run it, else BackendUnavailable."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailable(
            "tensorrt",
            f"the tensorrt package does not import ({exc}); install TensorRT 10 "
            "(pip install tensorrt-cu12) on a machine with an NVIDIA GPU",
        ) from exc
    if not torch.cuda.is_available():
        raise BackendUnavailable(
            "tensorrt", "torch sees no CUDA device (torch.cuda.is_available() is False)"
        )
    return trt


def onnx_file_hash(path: str | Path) -> str:
    """sha256 of the ONNX file's bytes (our exports keep weights inside the file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_profile(profile: DimProfile) -> dict[str, list[int]]:
    if not profile:
        raise ValueError("the optimisation profile is empty")
    out = {}
    for name, values in profile.items():
        lo, opt, hi = (int(v) for v in values)
        if not 0 < lo <= opt <= hi:
            raise ValueError(f"profile {name!r}: need 0 < min <= opt <= max, got {lo, opt, hi}")
        out[str(name)] = [lo, opt, hi]
    return dict(sorted(out.items()))


def engine_cache_key(
    gpu_name: str, tensorrt_version: str, precision: str, profile: DimProfile, onnx_hash: str
) -> str:
    """Key of an engine: what makes a built engine valid, and nothing else.

    Pure function. The workspace size is left out on purpose: it may change which
    tactics are tried but not what the engine computes, and an engine built under a
    bigger limit is still valid.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}; choose one of {PRECISIONS}")
    payload = {
        "gpu": gpu_name.strip(),
        "tensorrt": tensorrt_version.strip(),
        "precision": precision,
        "profile": _check_profile(profile),
        "onnx": onnx_hash,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def engine_cache_path(cache_dir: str | Path, gpu_name: str, key: str) -> Path:
    """``<cache>/<gpu slug>/<key>.engine``: one folder per GPU model, easy to prune."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name).strip("-").lower() or "gpu"
    return Path(cache_dir).expanduser() / slug / f"{key}.engine"


def profile_shapes(
    model: onnx.ModelProto, profile: DimProfile
) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """(min, opt, max) shape of every dynamic graph input, from the per-dimension profile."""
    initializers = {i.name for i in model.graph.initializer}
    checked = _check_profile(profile)
    shapes = {}
    for vi in model.graph.input:
        if vi.name in initializers:
            continue
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            continue
        triple: list[list[int]] = [[], [], []]
        for axis, dim in enumerate(dims):
            if dim.HasField("dim_value"):
                values = [dim.dim_value] * 3
            elif dim.dim_param in checked:
                values = checked[dim.dim_param]
            else:
                raise ValueError(
                    f"input {vi.name!r} axis {axis} ({dim.dim_param or 'unnamed'}) is dynamic "
                    f"but the profile only covers {sorted(checked)}"
                )
            for i in range(3):
                triple[i].append(values[i])
        shapes[vi.name] = (tuple(triple[0]), tuple(triple[1]), tuple(triple[2]))
    return shapes


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    precision: str,
    profile: DimProfile,
    workspace_mb: int,
) -> Path:
    """Parse ``onnx_path``, build a serialized engine and write it to ``engine_path``."""
    trt = import_tensorrt()
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}; choose one of {PRECISIONS}")
    if workspace_mb <= 0:
        raise ValueError(f"workspace_mb must be positive, got {workspace_mb}")
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    shapes = profile_shapes(onnx.load(str(onnx_path), load_external_data=False), profile)
    logger = trt_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if precision == "fp16":
        if not builder.platform_has_fast_fp16:
            log.warning("this GPU has no fast fp16; building fp16 anyway")
        config.set_flag(trt.BuilderFlag.FP16)
    opt_profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in shapes.items():
        opt_profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(opt_profile)
    monitor = trt_progress_monitor(trt)
    if monitor is not None:
        config.progress_monitor = monitor
    log.info(
        "building TensorRT %s engine (%s, workspace %d MB) from %s with profile %s; "
        "this takes minutes",
        trt.__version__,
        precision,
        workspace_mb,
        onnx_path.name,
        dict(profile),
    )
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} (see log)")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    partial = engine_path.with_suffix(".partial")
    partial.write_bytes(bytes(serialized))
    partial.replace(engine_path)  # a crash mid-write never leaves a truncated engine
    log.info(
        "built %s in %.0f s (%.1f MB)",
        engine_path,
        time.perf_counter() - start,
        engine_path.stat().st_size / 1e6,
    )
    return engine_path


def engine_record(gpu_name: str, tensorrt_version: str, precision: str, profile: DimProfile,
                  onnx_hash: str) -> dict[str, Any]:
    """What an engine was built with: the fields of its cache key, in readable form."""
    return {"gpu": gpu_name.strip(), "tensorrt": tensorrt_version.strip(),
            "precision": precision, "profile": _check_profile(profile), "onnx_hash": onnx_hash}


def stale_reason(recorded: Mapping[str, Any] | None, expected: Mapping[str, Any],
                 engine_sha256: str | None) -> str | None:
    """None if a cached engine can be used, else why it must be rebuilt. Pure function.

    ``recorded``: the JSON record beside the engine (None: missing or unreadable);
    ``expected``: ``engine_record`` of this machine and graph; ``engine_sha256``: of the
    engine file's bytes as found (None: no file)."""
    if engine_sha256 is None:
        return "no engine file"
    if recorded is None:
        return "no readable build record beside it"
    names = {"gpu": "GPU", "tensorrt": "TensorRT version", "precision": "precision",
             "profile": "shape profile", "onnx_hash": "ONNX graph"}
    for field, what in names.items():
        if recorded.get(field) != expected[field]:
            return (f"{what} differs: built for {recorded.get(field)!r}, "
                    f"now {expected[field]!r}")
    if recorded.get("engine_sha256") != engine_sha256:
        return "the engine file does not match its record (truncated or corrupt)"
    return None


def file_sha256(path: Path) -> str | None:
    """sha256 of a file's bytes, None if it does not exist."""
    return onnx_file_hash(path) if path.is_file() else None


def read_record(engine_path: Path) -> dict[str, Any] | None:
    """The JSON record beside an engine, None if missing or not JSON."""
    try:
        record = json.loads(engine_path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def cached_engine(
    onnx_path: str | Path,
    cache_dir: str | Path,
    precision: str,
    profile: DimProfile,
    workspace_mb: int,
    rebuild: str | None = None,
) -> Path:
    """The engine for this GPU/TensorRT/precision/profile/ONNX, built only if not cached
    or stale. ``rebuild``: a reason to rebuild regardless (e.g. TensorRT refused it)."""
    trt = import_tensorrt()
    gpu = torch.cuda.get_device_name()
    onnx_hash = onnx_file_hash(onnx_path)
    key = engine_cache_key(gpu, trt.__version__, precision, profile, onnx_hash)
    path = engine_cache_path(cache_dir, gpu, key)
    expected = engine_record(gpu, trt.__version__, precision, profile, onnx_hash)
    found = file_sha256(path)
    reason = rebuild or stale_reason(read_record(path), expected, found)
    if reason is None:
        log.info("TensorRT engine cache hit: %s", path)
        return path
    if found is None:
        log.info("no cached TensorRT engine for key %s (GPU %s, TensorRT %s)", key, gpu,
                 trt.__version__)
    else:
        log.warning("rebuilding TensorRT engine %s: %s", path, reason)
    build_engine(onnx_path, path, precision, profile, workspace_mb)
    record = {**expected, "onnx": str(onnx_path), "engine_sha256": file_sha256(path)}
    path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return path


def load_runner(onnx_path: str | Path, cache_dir: str | Path, precision: str,
                profile: DimProfile, workspace_mb: int) -> tuple[Path, TensorRTRunner]:
    """A runner for the cached engine; an engine TensorRT cannot deserialize (built by
    another TensorRT or driver, damaged) is rebuilt once, with a log line, not a crash."""
    engine = cached_engine(onnx_path, cache_dir, precision, profile, workspace_mb)
    try:
        return engine, TensorRTRunner(engine)
    except RuntimeError as exc:
        engine = cached_engine(onnx_path, cache_dir, precision, profile, workspace_mb,
                               rebuild=f"TensorRT could not load it ({exc})")
        return engine, TensorRTRunner(engine)


class TensorRTRunner:
    """Runs a serialized engine with torch CUDA tensors as input and output bindings."""

    def __init__(self, engine_path: str | Path, device: int | None = None) -> None:
        trt = import_tensorrt()
        self._trt = trt
        self.device = torch.device(
            "cuda", device if device is not None else torch.cuda.current_device()
        )
        self._logger = trt_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        with torch.cuda.device(self.device):
            self.engine = self._runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
            if self.engine is None:
                raise RuntimeError(
                    f"TensorRT could not deserialize {engine_path} (stale or corrupt)"
                )
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = [n for n in names if is_input[n]]
        self.output_names = [n for n in names if not is_input[n]]
        self.dtypes = {n: torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        self.profile = {n: self.engine.get_tensor_profile_shape(n, 0) for n in self.input_names}
        self.stream = torch.cuda.Stream(self.device)
        self._keep_alive: dict[str, torch.Tensor] = {}

    def _check_shape(self, name: str, shape: tuple[int, ...]) -> None:
        lo, _, hi = (tuple(s) for s in self.profile[name])
        if len(shape) != len(lo) or any(not a <= s <= b for s, a, b in zip(shape, lo, hi)):
            raise ValueError(
                f"input {name!r} has shape {shape}; the engine's profile allows {lo} to {hi} "
                "(rebuild with a wider --min-points/--max-points)"
            )

    def run(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Outputs as CUDA tensors, ready on the caller's current stream."""
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"missing engine inputs {missing}")
        caller = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(caller)  # inputs the caller produced must be ready
        with torch.cuda.stream(self.stream):
            outputs = self._enqueue(inputs)
        caller.wait_stream(self.stream)
        for tensor in outputs.values():
            tensor.record_stream(caller)
        return outputs

    def _enqueue(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        bound = {}
        for name in self.input_names:
            tensor = inputs[name].to(self.device, self.dtypes[name]).contiguous()
            self._check_shape(name, tuple(tensor.shape))
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
            bound[name] = tensor  # keep alive until the stream is done
        unresolved = self.context.infer_shapes()
        if unresolved:
            raise RuntimeError(f"TensorRT could not infer shapes for {unresolved}")
        outputs: dict[str, torch.Tensor] = {}
        allocator = None
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            if any(d < 0 for d in shape):  # data-dependent: TensorRT asks for memory later
                allocator = allocator or TorchOutputAllocator(self._trt, self.device)
                self.context.set_output_allocator(name, allocator)
                continue
            outputs[name] = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        # A non-default stream: on the default stream TensorRT adds device-wide syncs.
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see log)")
        if allocator is not None:
            self.stream.synchronize()  # shapes are only known once the engine has run
            for name in self.output_names:
                if name not in outputs:
                    outputs[name] = allocator.tensor(name, self.dtypes[name])
        else:
            self._keep_alive = bound
        return outputs
