"""The core library logs with Python ``logging`` (backend choice, graph exports, the switch
from torch to an exported graph); in the node those lines belong in the node's own log,
with its name and the ROS log levels, so ``ros2 launch`` shows them."""

from __future__ import annotations

import logging
from typing import Any


class RosLogHandler(logging.Handler):
    """Forwards Python log records to an rclpy logger at the matching severity."""

    def __init__(self, ros_logger: Any) -> None:
        super().__init__()
        self.ros_logger = ros_logger
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            if record.levelno >= logging.ERROR:
                self.ros_logger.error(message)
            elif record.levelno >= logging.WARNING:
                self.ros_logger.warning(message)
            elif record.levelno >= logging.INFO:
                self.ros_logger.info(message)
            else:
                self.ros_logger.debug(message)
        except Exception:  # a log line must never take the node down
            self.handleError(record)


def forward_core_logs(ros_logger: Any, level: int = logging.INFO) -> RosLogHandler:
    """Send the ``query3d`` library's records at ``level`` and above to ``ros_logger``."""
    core = logging.getLogger("query3d")
    handler = RosLogHandler(ros_logger)
    core.addHandler(handler)
    core.setLevel(level)
    core.propagate = False  # once, in the node's log; not again through the root logger
    return handler
