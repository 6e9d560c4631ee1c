"""A pick pipeline asking query3d_node: the Segment service, then the FindObject action.

    python examples/pipeline_client.py "the red mug"
"""

import sys

import rclpy
from query3d_msgs.action import FindObject
from query3d_msgs.srv import Segment
from rclpy.action import ActionClient
from rclpy.node import Node


def main(command: str) -> int:
    rclpy.init()
    node = Node("pick_pipeline")
    segment = node.create_client(Segment, "/query3d_node/segment")
    find = ActionClient(node, FindObject, "/query3d_node/find_object")

    # 1. One call, one typed answer, on the newest cloud of ~/input/points (or put a
    #    sensor_msgs/PointCloud2 in request.cloud to segment that one).
    segment.wait_for_service()
    call = segment.call_async(Segment.Request(command=command, timeout=60.0))
    rclpy.spin_until_future_complete(node, call)
    answer = call.result()
    print(f"segment: {answer.message}")
    for obj in answer.result.objects:  # in answer.result.header.frame_id
        p = obj.pose.position
        print(f"  {obj.label} {obj.score:.2f} at ({p.x:.2f}, {p.y:.2f}, {p.z:.2f}) m, "
              f"{len(obj.point_indices)} points of the source cloud")

    # 2. The same as an action: feedback while the node waits for a cloud, a camera
    #    image or the network; goal_handle.cancel_goal_async() cancels it.
    find.wait_for_server()
    sent = find.send_goal_async(
        FindObject.Goal(command=command, timeout=60.0),
        feedback_callback=lambda msg: print(f"feedback: {msg.feedback.state_name}"))
    rclpy.spin_until_future_complete(node, sent)
    done = sent.result().get_result_async()
    rclpy.spin_until_future_complete(node, done)
    found = done.result().result
    print(f"find_object: success={found.success} {found.message} "
          f"({len(found.result.objects)} object(s), request {found.result.request_id})")

    node.destroy_node()
    rclpy.shutdown()
    return 0 if answer.success and found.success else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "the red mug"))
