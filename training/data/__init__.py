"""Data: the synthetic benchmark generator, readers for real formats, augmentations."""

from query3d.data.sample import CameraView, ObjectBox, Query, Sample, Scene

__all__ = ["CameraView", "ObjectBox", "Query", "Sample", "Scene"]
