"""Spin a node until Ctrl-C / SIGINT / shutdown, then clean up: shared by every
executable of the package so they all stop the same way under ros2 launch."""

from __future__ import annotations

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def spin_until_shutdown(node: Node, executor: Executor | None = None) -> int:
    executor = executor or SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if node.context.ok():  # a SIGINT during start-up (model loading) already shut down
            executor.spin()
    except (KeyboardInterrupt, SystemExit, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
