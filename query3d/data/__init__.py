"""The data layer every other part imports: the sample types and the point-cloud file
readers.

It sits below the network, the runtime, the CLI and the ROS node (imports run
data <- model <- export <- runtime <- CLI / node), so a file read by ``query3d segment``
and a camera view built by the node are the same types that training uses.
"""

from query3d.data.readers import CloudFile, read_cloud
from query3d.data.sample import EVAL_TYPES, CameraView, ObjectBox, Query, Sample, Scene

__all__ = ["EVAL_TYPES", "CameraView", "CloudFile", "ObjectBox", "Query", "Sample", "Scene",
           "read_cloud"]
