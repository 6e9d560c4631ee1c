"""Files shipped inside the package: the demo checkpoint and the demo scene.

They load from the installed package, never from the network, so the demo and the
node's default work on an offline robot.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "assets"
DEMO_CHECKPOINT = DATA_DIR / "demo_small.pt"
DEMO_SCENE_DIR = DATA_DIR / "demo_scene"


def demo_checkpoint() -> Path:
    """The bundled checkpoint, with a clear error if this install lacks it."""
    if not DEMO_CHECKPOINT.is_file():
        raise FileNotFoundError(
            f"no bundled demo checkpoint at {DEMO_CHECKPOINT}; pass a checkpoint explicitly "
            "(query3d train writes one)"
        )
    return DEMO_CHECKPOINT
