"""QoS profiles by name, so parameters and tools say `sensor_data` or `command`."""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

# Commands must not be lost and a late-joining node must still see the last one.
COMMAND = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
SENSOR_DATA = qos_profile_sensor_data


def qos_by_name(name: str) -> QoSProfile:
    table = {"sensor_data": SENSOR_DATA, "reliable": RELIABLE, "command": COMMAND}
    if name not in table:
        raise ValueError(f"unknown QoS {name!r}; use one of {', '.join(table)}")
    return table[name]
