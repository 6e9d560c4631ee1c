"""ROS 2 node around the ROS-free ``query3d`` core: messages -> numpy -> Segmenter ->
result -> messages."""
