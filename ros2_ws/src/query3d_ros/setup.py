"""ROS 2 node package ``query3d_ros`` (ament_python): a thin node around ``query3d``."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "query3d_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        # the defaults live inside the package (the node reads them); launch files find
        # the same file in share/
        (f"share/{PACKAGE}/config", glob(f"{PACKAGE}/config/*.yaml")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
    ],
    package_data={PACKAGE: ["config/*.yaml"]},
    install_requires=["setuptools"],
    zip_safe=True,
    description="ROS 2 node for query3d: referring 3D segmentation from text commands",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "query3d_node = query3d_ros.node:main",
            "query3d_play_scene = query3d_ros.play_scene:main",
            "query3d_send = query3d_ros.send:main",
            "query3d_demo = query3d_ros.demo:main",
        ],
        "query3d.cli": ["demo = query3d_ros.demo:add_parser"],
    },
)
