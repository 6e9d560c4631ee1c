"""Approximate-time synchronisation: the pure-Python rule, message_filters where it is
installed, and real subscriptions over DDS."""

from __future__ import annotations

import random
import threading
import time

import pytest
import rclpy
from geometry_msgs.msg import PointStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from query3d_ros.sync import ApproximateTimeSync, make_synchronizer, stamp_to_ns

MS = 1_000_000  # nanoseconds


def feed(sync: ApproximateTimeSync, events: list[tuple[int, int]]) -> list[tuple]:
    """events: (input, stamp in ms); messages are (input, stamp) so matches are readable."""
    out = []
    for index, stamp_ms in events:
        got = sync.add(index, stamp_ms * MS, (index, stamp_ms))
        if got is not None:
            out.append(tuple(stamp for _, stamp in got))
    return out


def test_pairs_within_slop_in_input_order() -> None:
    sync = ApproximateTimeSync(2, queue_size=5, slop=0.02)
    # input 1 arrives first; the tuple is still (input 0, input 1)
    assert feed(sync, [(1, 1000), (0, 1015)]) == [(1015, 1000)]
    assert sync.queued() == [0, 0]


def test_not_paired_beyond_slop() -> None:
    sync = ApproximateTimeSync(2, queue_size=5, slop=0.02)
    assert feed(sync, [(0, 1000), (1, 1021), (0, 1042)]) == []
    assert feed(sync, [(0, 1040)]) == [(1040, 1021)]
    # 1000 and 1042 are 21 ms from 1021; 1040 matches, the older 1000 is dropped and
    # the newer 1042 waits for its own partner
    assert sync.queued() == [1, 0]


def test_nearest_candidate_wins_and_older_are_dropped() -> None:
    sync = ApproximateTimeSync(2, queue_size=5, slop=0.05)
    assert feed(sync, [(0, 1000), (0, 1040), (1, 1035)]) == [(1040, 1035)]
    assert sync.queued() == [0, 0]  # 1000 can no longer pair backwards in time
    # a late message on input 1 that would have matched the dropped 1000 finds nothing
    assert feed(sync, [(1, 1005)]) == []


def test_spread_of_the_whole_set_must_be_within_slop() -> None:
    sync = ApproximateTimeSync(3, queue_size=5, slop=0.05)
    # each of 960 and 1040 is within 50 ms of 1000, but they are 80 ms apart
    assert feed(sync, [(0, 960), (1, 1040), (2, 1000)]) == []
    assert feed(sync, [(0, 1020)]) == [(1020, 1040, 1000)]


def test_three_inputs_need_all_three() -> None:
    sync = ApproximateTimeSync(3, queue_size=5, slop=0.01)
    assert feed(sync, [(0, 500), (2, 503)]) == []
    assert sync.queued() == [1, 0, 1]
    assert feed(sync, [(1, 498)]) == [(500, 498, 503)]


def test_zero_slop_pairs_identical_stamps_only() -> None:
    sync = ApproximateTimeSync(2, queue_size=3, slop=0.0)
    assert feed(sync, [(0, 100), (1, 101), (1, 100)]) == [(100, 100)]


def test_queue_keeps_the_newest_and_memory_is_bounded() -> None:
    sync = ApproximateTimeSync(2, queue_size=3, slop=0.005)
    feed(sync, [(0, 100 * k) for k in range(1, 1001)])
    assert sync.queued() == [3, 0]
    assert feed(sync, [(1, 100)]) == []  # the oldest were evicted
    assert sync.queued() == [3, 1]
    assert feed(sync, [(1, 99_800)]) == [(99_800, 99_800)]
    assert sync.queued() == [2, 0]  # 99_900 and 100_000 stay: they are newer


def test_callbacks_receive_messages_and_bad_arguments_are_rejected() -> None:
    sync = ApproximateTimeSync(2, queue_size=2, slop=0.01)
    got = []
    sync.register_callback(lambda a, b: got.append((a, b)))
    sync.add(0, 5 * MS, "cloud")
    sync.add(1, 6 * MS, "image")
    assert got == [("cloud", "image")]
    with pytest.raises(ValueError, match="out of range"):
        sync.add(2, 0, "x")
    with pytest.raises(ValueError, match="queue_size"):
        ApproximateTimeSync(2, queue_size=0, slop=0.1)
    with pytest.raises(ValueError, match="slop"):
        ApproximateTimeSync(2, queue_size=1, slop=-0.1)


def test_concurrent_producers_never_lose_or_duplicate_a_set() -> None:
    sync = ApproximateTimeSync(2, queue_size=10_000, slop=0.001)
    got = []
    sync.register_callback(lambda a, b: got.append((a, b)))
    n = 2000
    threads = [
        threading.Thread(target=lambda i=i: [sync.add(i, k * 10 * MS, (i, k)) for k in range(n)])
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == n == len({(a[1], b[1]) for a, b in got})  # all, no duplicates
    assert all(a[1] == b[1] for a, b in got)
    assert got[-1][0][1] == n - 1  # the newest pair always matches


def jittered_streams(rng: random.Random, inputs: int, n: int) -> list[tuple[int, int]]:
    """In-order streams at 10 Hz, jitter < 12 ms, 15 % of messages lost."""
    events = []
    for k in range(n):
        for i in range(inputs):
            if rng.random() > 0.15:
                events.append((i, 1000 + 100 * k + rng.randint(-12, 12)))
    rng.shuffle(events)  # arrival order within a period is arbitrary
    return sorted(events, key=lambda e: (e[1] + 50) // 100)


@pytest.mark.parametrize("inputs", [2, 3])
def test_matches_message_filters(inputs: int) -> None:
    message_filters = pytest.importorskip("message_filters")
    simple_filter = getattr(message_filters, "SimpleFilter", None)
    if simple_filter is None:
        simple_filter = pytest.importorskip("message_filters.simple_filter").SimpleFilter
    events = jittered_streams(random.Random(inputs), inputs, 60)
    sources = [simple_filter() for _ in range(inputs)]
    library = message_filters.ApproximateTimeSynchronizer(sources, 5, 0.03)
    theirs = []
    library.registerCallback(
        lambda *msgs: theirs.append(tuple(stamp_to_ns(m.header.stamp) for m in msgs))
    )
    ours = ApproximateTimeSync(inputs, 5, 0.03)
    mine = []
    ours.register_callback(
        lambda *msgs: mine.append(tuple(stamp_to_ns(m.header.stamp) for m in msgs))
    )
    for index, stamp_ms in events:
        msg = PointStamped()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ms * MS, 1_000_000_000)
        sources[index].signalMessage(msg)
        ours.add(index, msg.header.stamp, msg)
    assert len(mine) > 30
    assert mine == theirs


@pytest.fixture
def ros_node():
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.Random().randint(100, 200))
    node = rclpy.create_node("query3d_sync_test", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    yield node, executor
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)


def stamped(msg_type, sec: int, nanosec: int):
    msg = msg_type()
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = "camera_optical"
    return msg


@pytest.mark.ros
@pytest.mark.parametrize("use_message_filters", [False, True])
def test_make_synchronizer_over_dds(ros_node, use_message_filters: bool) -> None:
    if use_message_filters:
        pytest.importorskip("message_filters")
    node, executor = ros_node
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    topics = [
        (PointCloud2, "sync_test/points"),
        (Image, "sync_test/image"),
        (CameraInfo, "sync_test/camera_info"),
    ]
    sync = make_synchronizer(
        node,
        [(t, name, qos) for t, name in topics],
        slop=0.05,
        queue=5,
        use_message_filters=use_message_filters,
    )
    assert sync.backend == ("message_filters" if use_message_filters else "internal")
    got = []
    sync.register_callback(lambda *msgs: got.append(msgs))
    pubs = [node.create_publisher(t, name, qos) for t, name in topics]
    deadline = time.monotonic() + 10.0
    while not all(p.get_subscription_count() for p in pubs) and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    # a set 1 s apart never pairs; a set within 30 ms does
    for pub, msg_type, nanosec in zip(pubs, [t for t, _ in topics], [0, 0, 0]):
        pub.publish(stamped(msg_type, 10 + (msg_type is Image), nanosec))
    for pub, msg_type, nanosec in zip(pubs, [t for t, _ in topics], [0, 20 * MS, 30 * MS]):
        pub.publish(stamped(msg_type, 20, nanosec))
    while not got and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    for _ in range(10):
        executor.spin_once(timeout_sec=0.02)
    assert len(got) == 1
    cloud, image, info = got[0]
    assert isinstance(cloud, PointCloud2) and isinstance(image, Image)
    assert isinstance(info, CameraInfo)
    assert [m.header.stamp.nanosec for m in got[0]] == [0, 20 * MS, 30 * MS]
    sync.destroy()


def test_a_cloud_meets_the_nearest_camera_view_within_slop() -> None:
    from query3d_ros.sync import CloudCameraSync

    sync = CloudCameraSync(history=3)
    for stamp_ms in (1000, 1040, 1100):
        sync.add_view(stamp_ms * MS, f"view{stamp_ms}", now=0.0)
    assert sync.view_for(1030 * MS, slop=0.05) == "view1040"  # nearest, not first
    assert sync.view_for(1200 * MS, slop=0.05) is None  # beyond slop: points only
    sync.add_view(1300 * MS, "view1300", now=1.0)  # history 3: the oldest is dropped
    assert sync.view_for(1000 * MS, slop=0.001) is None
    assert sync.last_view_at == 1.0


def test_a_run_waits_on_a_condition_for_its_late_image() -> None:
    from query3d_ros.sync import CloudCameraSync

    sync = CloudCameraSync()
    late = threading.Timer(0.2, lambda: sync.add_view(5000 * MS, "late", now=0.0))
    start = time.monotonic()
    late.start()
    assert sync.view_for(5000 * MS, slop=0.01, wait=3.0) == "late"
    waited = time.monotonic() - start
    assert 0.15 < waited < 2.5  # woken by the arrival, not by the timeout
    start = time.monotonic()
    assert sync.view_for(9000 * MS, slop=0.01, wait=0.2) is None
    assert time.monotonic() - start >= 0.19  # no image: the wait runs out
