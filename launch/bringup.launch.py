"""Bring up query3d: the segmentation node (and RViz on request).

    ros2 launch query3d_ros bringup.launch.py points:=/camera/depth/color/points \
        image:=/camera/color/image_raw camera_info:=/camera/color/camera_info use_rviz:=true

Commands ("the red mug") go to ``command``; a class list ("mug, bowl, box, table") on
``classes`` labels every point of each cloud (``~/output/semantic`` + its legend).

The node's topics are fixed private names (``~/input/points`` ... ``~/output/result``);
the arguments below remap its inputs. It is a lifecycle node that configures and
activates itself (``autostart:=false`` leaves it unconfigured for a lifecycle manager).
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

PACKAGE = "query3d_ros"

ARGUMENTS = [
    ("namespace", "", "namespace for the node and its topics"),
    ("params_file", PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "query3d.yaml"]),
     "YAML file with the node's parameters"),
    ("points", "/camera/depth/color/points", "input sensor_msgs/PointCloud2 topic"),
    ("image", "/camera/color/image_raw", "input sensor_msgs/Image topic (optional camera)"),
    ("camera_info", "/camera/color/camera_info", "input sensor_msgs/CameraInfo topic"),
    ("command", "/query3d/command", "input std_msgs/String text command topic"),
    ("classes", "/query3d/classes",
     "input std_msgs/String class list topic ('mug, bowl, box, table': semantic labels)"),
    ("autostart", "true", "configure and activate the lifecycle node at start-up"),
    ("backend", "auto", "inference backend: auto, torch, onnxruntime or tensorrt"),
    ("checkpoint", "", "checkpoint (.pt) or exported model folder; empty = bundled demo"),
    ("use_rviz", "false", "also start RViz with the query3d view"),
]


def generate_launch_description() -> LaunchDescription:
    args = [DeclareLaunchArgument(name, default_value=default, description=text)
            for name, default, text in ARGUMENTS]
    node = Node(
        package=PACKAGE,
        executable="query3d_node",
        name="query3d_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {"backend": LaunchConfiguration("backend"),
             "checkpoint": LaunchConfiguration("checkpoint"),
             "autostart": LaunchConfiguration("autostart")},
        ],
        remappings=[
            ("~/input/points", LaunchConfiguration("points")),
            ("~/input/image", LaunchConfiguration("image")),
            ("~/input/camera_info", LaunchConfiguration("camera_info")),
            ("~/input/command", LaunchConfiguration("command")),
            ("~/input/classes", LaunchConfiguration("classes")),
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", PathJoinSubstitution([FindPackageShare(PACKAGE), "rviz", "query3d.rviz"])],
        condition=IfCondition(LaunchConfiguration("use_rviz")),
    )
    return LaunchDescription([*args, node, rviz])
