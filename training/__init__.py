"""Training, data and evaluation (``query3d.training``). Imports no ROS."""
