"""query3d: find what a sentence refers to in a 3D point cloud.

The distribution maps folders to namespaced import names (see setup.py):
``core/`` -> ``query3d``, ``model/`` -> ``query3d.model``,
``training/`` -> ``query3d.training``. A bare ``model`` package would collide with
other packages inside a robot's colcon workspace.
"""

__version__ = "0.1.0"
