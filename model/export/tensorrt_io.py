"""Glue between TensorRT's callback interfaces and Python logging / torch memory.

The ``trt`` module is passed in rather than imported, so this file imports on machines
without TensorRT and the classes are only defined where TensorRT exists.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

log = logging.getLogger("query3d.model.export.tensorrt")


def torch_dtype(trt: Any, dtype: Any) -> torch.dtype:
    table = {
        trt.DataType.FLOAT: torch.float32,
        trt.DataType.HALF: torch.float16,
        trt.DataType.INT32: torch.int32,
        trt.DataType.INT64: torch.int64,
        trt.DataType.BOOL: torch.bool,
        trt.DataType.INT8: torch.int8,
        trt.DataType.UINT8: torch.uint8,
        trt.DataType.BF16: torch.bfloat16,
    }
    if dtype not in table:
        raise TypeError(f"TensorRT data type {dtype} has no torch equivalent here")
    return table[dtype]


def trt_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` that forwards to Python logging, so builds log like the rest."""
    levels = {
        trt.ILogger.Severity.INTERNAL_ERROR: logging.CRITICAL,
        trt.ILogger.Severity.ERROR: logging.ERROR,
        trt.ILogger.Severity.WARNING: logging.WARNING,
        trt.ILogger.Severity.INFO: logging.INFO,
        trt.ILogger.Severity.VERBOSE: logging.DEBUG,
    }

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            log.log(levels.get(severity, logging.INFO), "TensorRT: %s", msg)

    return _Logger()


def trt_progress_monitor(trt: Any) -> Any | None:
    """Logs each top-level build phase; None where this TensorRT has no IProgressMonitor."""
    if not hasattr(trt, "IProgressMonitor"):
        return None

    class _Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if parent_phase is None:
                log.info("TensorRT build: %s (%d steps)", phase_name, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True

        def phase_finish(self, phase_name: str) -> None:
            log.debug("TensorRT build: finished %s", phase_name)

    return _Monitor()


class TorchOutputAllocator:
    """Allocates data-dependent outputs as torch CUDA tensors when TensorRT asks."""

    def __new__(cls, trt: Any, device: torch.device) -> Any:
        class _Allocator(trt.IOutputAllocator):
            def __init__(self) -> None:
                trt.IOutputAllocator.__init__(self)
                self.buffers: dict[str, torch.Tensor] = {}
                self.shapes: dict[str, tuple[int, ...]] = {}

            def reallocate_output(
                self, tensor_name: str, memory: int, size: int, alignment: int
            ) -> int:
                buffer = self.buffers.get(tensor_name)
                if buffer is None or buffer.numel() < size:
                    buffer = torch.empty(max(size, 1), dtype=torch.uint8, device=device)
                    self.buffers[tensor_name] = buffer
                return buffer.data_ptr()

            def reallocate_output_async(
                self, tensor_name: str, memory: int, size: int, alignment: int, stream: int
            ) -> int:
                return self.reallocate_output(tensor_name, memory, size, alignment)

            def notify_shape(self, tensor_name: str, shape: Any) -> None:
                self.shapes[tensor_name] = tuple(shape)

            def tensor(self, name: str, dtype: torch.dtype) -> torch.Tensor:
                shape = self.shapes[name]
                if name not in self.buffers:  # an empty output: TensorRT asked for nothing
                    return torch.empty(shape, dtype=dtype, device=device)
                count = 1
                for d in shape:
                    count *= d
                itemsize = torch.empty(0, dtype=dtype).element_size()
                return self.buffers[name][: count * itemsize].view(dtype).reshape(shape)

        return _Allocator()
