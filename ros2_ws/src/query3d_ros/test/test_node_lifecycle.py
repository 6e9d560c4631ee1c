"""query3d_node as a lifecycle node, driven from another process through the standard
lifecycle_msgs services over real DDS: what exists in each state, what a FindObject goal
reports while it waits, cancel, a full queue, and that a transient-local command is not
run again after re-activation or after a restart."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("query3d_msgs")

from action_msgs.msg import GoalStatus  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from node_harness import call, start_node  # noqa: E402
from query3d_msgs.action import FindObject  # noqa: E402
from query3d_msgs.srv import Segment  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros.launcher import node_command  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


class Lifecycle:
    def __init__(self, peer) -> None:
        self.peer = peer
        self.get = peer.node.create_client(GetState, "/query3d_node/get_state")
        self.change = peer.node.create_client(ChangeState, "/query3d_node/change_state")

    def state(self) -> str:
        return call(self.peer, self.get, GetState.Request()).current_state.label

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return call(self.peer, self.change, request).success


def _wait(peer, future, timeout: float = 60.0):
    assert peer.spin_until(future.done, timeout), "no answer in time"
    return future.result()


def test_lifecycle_transitions_goals_and_replays(tmp_path: Path) -> None:
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    procs, peer = start_node(tmp_path, autostart=False, command_queue_size=1, warm_up=False,
                             points_qos="reliable")
    try:
        life = Lifecycle(peer)
        segment = peer.node.create_client(Segment, "/query3d_node/segment")
        assert life.state() == "unconfigured"
        assert "model ready" not in procs.log("node")  # nothing loaded before configure

        assert life.transition(Transition.TRANSITION_CONFIGURE)
        assert life.state() == "inactive" and "model ready" in procs.log("node")
        peer.spin_until(lambda: False, 1.0)
        assert peer.cloud_pub.get_subscription_count() == 0  # no I/O while inactive
        assert not segment.wait_for_service(timeout_sec=1.0)

        assert life.transition(Transition.TRANSITION_ACTIVATE)
        assert life.state() == "active"
        assert peer.spin_until(lambda: peer.cloud_pub.get_subscription_count() == 1, 30)
        assert segment.wait_for_service(timeout_sec=30.0)

        # no cloud yet: a goal waits and says so; the queue (size 1) is then full
        feedback: list[int] = []
        find = ActionClient(peer.node, FindObject, "/query3d_node/find_object")
        assert find.wait_for_server(timeout_sec=30.0)
        goal = _wait(peer, find.send_goal_async(
            FindObject.Goal(command="the red mug", timeout=120.0),
            feedback_callback=lambda m: feedback.append(m.feedback.state)))
        assert goal.accepted
        assert peer.spin_until(lambda: FindObject.Feedback.WAITING_FOR_CLOUD in feedback, 30)
        full = call(peer, segment, Segment.Request(command="the bowl"))
        assert not full.success and "already waiting" in full.message, full.message
        _wait(peer, goal.cancel_goal_async())
        outcome = _wait(peer, goal.get_result_async())
        assert outcome.status == GoalStatus.STATUS_CANCELED
        assert not outcome.result.success

        # a cloud comes: a topic command is answered
        answered = peer.ask("the red mug", timeout=240,
                            republish=lambda: peer.publish_cloud(scene.points, scene.colors))
        assert not answered["error"] and answered["source"] == "topic"
        count = len(peer.results)

        assert life.transition(Transition.TRANSITION_DEACTIVATE)
        assert life.state() == "inactive"
        assert peer.spin_until(lambda: peer.cloud_pub.get_subscription_count() == 0, 30)
        # activated again, the node gets the topic's last (transient-local) command once
        # more: it was already answered, so it is logged, not run
        assert life.transition(Transition.TRANSITION_ACTIVATE)
        assert peer.spin_until(lambda: "already taken once" in procs.log("node"), 30), \
            procs.log("node")[-2000:]
        peer.publish_cloud(scene.points, scene.colors)
        peer.spin_until(lambda: False, 3.0)
        assert len(peer.results) == count

        assert life.transition(Transition.TRANSITION_DEACTIVATE)
        assert life.transition(Transition.TRANSITION_CLEANUP)
        assert life.state() == "unconfigured" and "model freed" in procs.log("node")

        # a restart (autostart, the default): the replayed command predates the process
        first = procs.children.pop("node")
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) == 0
        procs.start("node2", node_command({"backend": "torch", "warm_up": False,
                                           "points_qos": "reliable"}))
        assert peer.spin_until(lambda: "before this node started" in procs.log("node2"), 120), \
            procs.log("node2")[-2000:]
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            peer.publish_cloud(scene.points, scene.colors)
            peer.spin_until(lambda: False, 1.0)
        assert len(peer.results) == count and procs.alive("node2")
        assert "active:" in procs.log("node2")
    finally:
        peer.close()
        procs.stop()
