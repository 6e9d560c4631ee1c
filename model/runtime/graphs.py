"""Exported graphs of a checkpoint: named by what they were made from, cached on disk,
made in the background so a served checkpoint answers at once.

A checkpoint served with onnxruntime or TensorRT needs its frame graph exported to ONNX
first (about a minute per graph on 2 CPU cores). ``GraphExporter`` does that in a child
process at low priority (``torch.export`` traces with process-wide state, so tracing
beside a serving thread in the same process breaks both); until a graph is ready the
``Segmenter`` runs the same weights with torch, and switches over when it is.
``query3d export`` writes the graphs ahead of time. For onnxruntime the graph is exported
in two parts (``split``: ``export.split_graph``), so a second command on a cloud reruns
only the text-dependent part; TensorRT takes the whole graph.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import torch

from query3d.model.export.onnx_export import FORMAT_VERSION
from query3d.model.export.split_graph import split_paths

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


class GraphExporter:
    """The ONNX graphs of one checkpoint in a cache folder, exported once each, in the
    background; ``on_ready(with_images, path)`` runs when one is written."""

    def __init__(self, checkpoint: Path, key: str, cache_dir: str | Path,
                 on_ready: Callable[[bool, Path], None], timeout_s: float = 3600.0,
                 split: bool = False) -> None:
        self.checkpoint, self.timeout_s, self.split = Path(checkpoint), timeout_s, split
        self.folder = Path(cache_dir).expanduser()
        self.key, self.on_ready = key, on_ready
        self._threads: dict[bool, threading.Thread] = {}
        self._lock = threading.Lock()
        self.errors: dict[bool, BaseException] = {}

    def _whole(self, with_images: bool) -> Path:
        return self.folder / (f"{self.key}-{graph_code_key()}-v{FORMAT_VERSION}-"
                              f"{GRAPH_FILES[with_images]}")

    def _files(self, whole: Path) -> list[Path]:
        return list(split_paths(whole)) if self.split else [whole]

    def path(self, with_images: bool) -> Path:
        """The graph a backend loads: the whole graph, or the text part of a split one
        (its encoder lies beside it, ``split_paths``)."""
        return self._files(self._whole(with_images))[-1]

    def cached(self, with_images: bool) -> Path | None:
        done = all(f.is_file() for f in self._files(self._whole(with_images)))
        return self.path(with_images) if done else None

    def start(self, with_images: bool) -> None:
        """Begin exporting this graph unless it is cached, running or failed already."""
        with self._lock:
            if with_images in self._threads or with_images in self.errors:
                return
            thread = threading.Thread(target=self._export, args=(with_images,), daemon=True,
                                      name=f"query3d-export-{GRAPH_FILES[with_images]}")
            self._threads[with_images] = thread
        thread.start()

    def wait(self, with_images: bool, timeout: float | None = None) -> Path | None:
        """For ``query3d export``, tests and benchmarks: the graph once written."""
        thread = self._threads.get(with_images)
        if thread is not None:
            thread.join(timeout)
        if with_images in self.errors:
            raise self.errors[with_images]
        return self.cached(with_images)

    def _export(self, with_images: bool) -> None:
        whole = self._whole(with_images)
        try:
            if self.cached(with_images) is None:
                log.info("exporting the %s graph to %s in the background (once per "
                         "checkpoint); torch serves meanwhile",
                         "camera" if with_images else "points-only", whole)
                # private file names, renamed into place: a reader never sees half a graph
                self.folder.mkdir(parents=True, exist_ok=True)
                partial = whole.with_name(f".{whole.stem}.{os.getpid()}.partial.onnx")
                command = [sys.executable, "-m", __name__, str(self.checkpoint), str(partial),
                           "--parent", str(os.getpid()), *(["--images"] if with_images else []),
                           *(["--split"] if self.split else [])]
                done = subprocess.run(command, capture_output=True, text=True,
                                      timeout=self.timeout_s)
                written = self._files(partial)
                if done.returncode != 0 or not all(f.is_file() for f in written):
                    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                    raise RuntimeError(f"export process exited {done.returncode}: "
                                       + " | ".join(tail))
                for source, target in zip(written, self._files(whole)):
                    source.replace(target)
            self.on_ready(with_images, self.path(with_images))
        except Exception as exc:  # reported by the Segmenter; torch keeps serving
            self.errors[with_images] = exc
            log.warning("export of the %s graph failed, torch keeps serving: %s",
                        "camera" if with_images else "points-only", exc)


def _exit_with_parent(parent: int) -> None:
    """A node that stops (SIGINT, crash) must not leave its export running."""
    while os.getppid() == parent:
        threading.Event().wait(1.0)
    os._exit(3)


def _export_main(argv: list[str] | None = None) -> int:
    """The child process: export one frame graph of a checkpoint to a file."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", action="store_true", help="the camera-image graph")
    parser.add_argument("--parent", type=int, default=0, help="exit when this process ends")
    parser.add_argument("--split", action="store_true",
                        help="the encoder and text graphs (split_paths(out)) instead")
    args = parser.parse_args(argv)
    if args.parent:
        threading.Thread(target=_exit_with_parent, args=(args.parent,), daemon=True).start()
    os.nice(10)  # the serving process comes first
    torch.set_num_threads(1)
    from query3d.model.export.frame_graph import export_frame_graph
    from query3d.model.export.split_graph import export_split_graphs
    from query3d.model.mrcosmo import EXPORT_OUTPUTS
    from query3d.model.runtime.segmenter import Segmenter

    seg = Segmenter(args.checkpoint, backend="torch")
    with_images = args.images
    export = export_split_graphs if args.split else export_frame_graph
    export(seg.net, seg.deployment, seg.example(with_images), args.out, EXPORT_OUTPUTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(_export_main())
