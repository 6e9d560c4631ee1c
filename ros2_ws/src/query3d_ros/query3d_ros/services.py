"""The request interfaces a manipulation pipeline calls (created on activate):

- ``~/segment`` (query3d_msgs/srv/Segment): a command, optionally with its own cloud ->
  the typed ``QueryResult``. The call blocks until the answer (or its timeout).
- ``~/find_object`` (query3d_msgs/action/FindObject): the same as a goal, with feedback
  (queued / waiting_for_cloud / waiting_for_camera / running) and cancel.
- ``~/clear_command`` (std_srvs/srv/Trigger): forget the active topic command (continuous
  mode stops re-running it) and drop queued topic commands, each with a log line.

Every request goes through the node's one queue, so topic commands, calls and goals are
answered in arrival order. The handlers run in the node's reentrant command group on the
multi-threaded executor: a waiting call holds one thread, never the cloud or camera ones.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from query3d_msgs.action import FindObject
from query3d_msgs.srv import Segment
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from std_srvs.srv import Trigger

from query3d_ros import topics
from query3d_ros.commands import STATE_NAMES, CommandRefused, check_command

RUN_GRACE_S = 300.0  # how long past its deadline a started run may take before a call gives up


class _Answer:
    """Where the worker's answer to one request lands (any thread)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.msg: Any = None

    def __call__(self, msg: Any) -> None:
        self.msg = msg
        self.event.set()


def _outcome(msg: Any) -> tuple[bool, str]:
    if msg.error:
        return False, msg.error
    names = ", ".join(f"{o.label or '?'}({o.score:.2f})" for o in msg.objects)
    return True, f"request {msg.request_id}: " + (names or "no target")


class RequestServers:
    def __init__(self, node: Any, callback_group: Any) -> None:
        self.node = node
        self.segment = node.create_service(Segment, topics.SEGMENT_SERVICE, self._on_segment,
                                           callback_group=callback_group)
        self.clear = node.create_service(Trigger, topics.CLEAR_COMMAND_SERVICE, self._on_clear,
                                         callback_group=callback_group)
        self.find = ActionServer(node, FindObject, topics.FIND_OBJECT_ACTION, self._execute,
                                 goal_callback=self._on_goal, cancel_callback=self._on_cancel,
                                 callback_group=callback_group)

    def destroy(self) -> None:
        self.node.destroy_service(self.segment)
        self.node.destroy_service(self.clear)
        self.find.destroy()

    # -- Segment ------------------------------------------------------------------------
    def _on_segment(self, req: Segment.Request, resp: Segment.Response) -> Segment.Response:
        frame = None
        if req.cloud.width * req.cloud.height > 0 or len(req.cloud.data) > 0:
            try:
                frame = self.node.cloud_frame(req.cloud)
            except ValueError as exc:
                resp.success, resp.message = False, f"the request's cloud: {exc}"
                self.node.get_logger().warning(f"Segment call refused: {resp.message}")
                return resp
        answer = _Answer()
        try:
            request = self.node.submit(req.command, "service", frame=frame,
                                       timeout=req.timeout, on_done=answer)
        except CommandRefused as exc:
            resp.success, resp.message = False, str(exc)
            self.node.get_logger().warning(f"Segment call refused: {exc}")
            return resp
        limit = request.deadline - time.monotonic() + RUN_GRACE_S
        if not answer.event.wait(limit):
            self.node.worker.cancel(request)
            resp.success = False
            resp.message = f"no answer to request {request.id} within {limit:.0f} s"
            return resp
        resp.result = answer.msg
        resp.success, resp.message = _outcome(answer.msg)
        return resp

    # -- clear --------------------------------------------------------------------------
    def _on_clear(self, req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        dropped = self.node.worker.clear()
        for r in dropped:
            self.node.get_logger().info(f"cleared command {r.id}: {r.text[:80]!r}")
        self.node.outputs.active_command("")
        resp.success = True
        resp.message = f"cleared {len(dropped)} command(s)"
        return resp

    # -- FindObject ---------------------------------------------------------------------
    def _on_goal(self, goal: FindObject.Goal) -> GoalResponse:
        try:
            check_command(goal.command)
        except CommandRefused as exc:
            self.node.get_logger().warning(f"FindObject goal refused: {exc}")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle: Any) -> CancelResponse:
        return CancelResponse.ACCEPT

    def _feedback(self, goal_handle: Any, state: int, start: float) -> None:
        goal_handle.publish_feedback(FindObject.Feedback(
            state=state, state_name=STATE_NAMES[state], elapsed=time.monotonic() - start))

    def _execute(self, goal_handle: Any) -> FindObject.Result:
        start, answer = time.monotonic(), _Answer()
        goal = goal_handle.request
        try:
            request = self.node.submit(goal.command, "action", timeout=goal.timeout,
                                       on_done=answer)
        except CommandRefused as exc:
            self.node.get_logger().warning(f"FindObject goal aborted: {exc}")
            goal_handle.abort()
            return FindObject.Result(success=False, message=str(exc))
        state = request.state
        self._feedback(goal_handle, state, start)
        while not answer.event.wait(0.05):
            worker = self.node.worker
            if worker is None:  # cleaned up under it: nothing will answer
                goal_handle.abort()
                return FindObject.Result(success=False, message="the node was cleaned up")
            if goal_handle.is_cancel_requested:
                worker.cancel(request)
                goal_handle.canceled()
                self.node.get_logger().info(f"FindObject goal for request {request.id} "
                                            "canceled")
                return FindObject.Result(success=False, message="canceled")
            if request.state != state:
                state = request.state
                self._feedback(goal_handle, state, start)
        success, message = _outcome(answer.msg)
        if success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return FindObject.Result(success=success, message=message, result=answer.msg)
