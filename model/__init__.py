"""The MR-COSMO network (``query3d.model``): encoders, alignment, memory, heads, losses,
export and runtimes. Imports no ROS."""
