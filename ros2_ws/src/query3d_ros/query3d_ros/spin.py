"""Spin a node until Ctrl-C / SIGINT / shutdown, then clean up: shared by every
executable of the package so they all stop the same way under ros2 launch."""

from __future__ import annotations

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node


def spin_until_shutdown(node: Node, executor: Executor | None = None) -> int:
    executor = executor or SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if node.context.ok():  # a SIGINT during start-up (model loading) already shut down
            executor.spin()
    except (KeyboardInterrupt, SystemExit, ExternalShutdownException):
        pass
    except _rclpy.RCLError:
        # SIGINT shuts the context down from rclpy's signal handler thread; an executor
        # that was just making its wait set then fails on the dead context (ros2/rclpy#398):
        # that is the stop asked for, not an error, unless the context is still up
        if node.context.ok():
            raise
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=node.context)
    return 0
