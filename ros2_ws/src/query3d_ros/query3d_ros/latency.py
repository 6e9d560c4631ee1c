"""``~/latency`` as a stamped message: diagnostic_msgs/DiagnosticArray.

A bare Float32 cannot say which cloud a number belongs to, so the latency is published
as a DiagnosticArray whose header is the source cloud's (stamp and frame, like every
other output) with one status: ``total_ms``, the network's stages (``timings_ms`` of the
result: preprocess, text, graph, decode, ...) and the command. It is a standard message
every ROS install has, ``ros2 topic echo`` and rqt_runtime_monitor read it, and it needs
no message package of our own.
"""

from __future__ import annotations

from collections.abc import Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

LATENCY_STATUS = "query3d_node: latency"


def latency_message(header, total_ms: float, stages_ms: Mapping[str, float],
                    command: str, ok: bool = True) -> DiagnosticArray:
    """One run's timings, stamped with its cloud's ``header``; ERROR level if it failed."""
    values = [KeyValue(key="total_ms", value=f"{total_ms:.3f}")]
    values += [KeyValue(key=f"{stage}_ms", value=f"{float(ms):.3f}")
               for stage, ms in stages_ms.items()]
    values.append(KeyValue(key="command", value=command))
    status = DiagnosticStatus(level=DiagnosticStatus.OK if ok else DiagnosticStatus.ERROR,
                              name=LATENCY_STATUS, message=f"{total_ms:.1f} ms",
                              hardware_id="query3d", values=values)
    return DiagnosticArray(header=header, status=[status])


def latency_values(msg: DiagnosticArray) -> dict[str, str]:
    """The key-values of a latency message (for clients and tests)."""
    return {kv.key: kv.value for kv in msg.status[0].values} if msg.status else {}
