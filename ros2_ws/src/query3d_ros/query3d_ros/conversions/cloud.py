"""sensor_msgs/PointCloud2 <-> numpy.

Every layout a real driver publishes has to be readable: organized depth-camera clouds,
LiDAR clouds with padding bytes, PCL's float-packed ``rgb``, separate ``r,g,b`` bytes,
big-endian producers and rows padded beyond ``width * point_step``. sensor_msgs_py reads
the common case (native byte order, no row padding) where it is installed; everything
else, and every robot without it, goes through one vectorised numpy path.
"""

from __future__ import annotations

import array
import sys
from typing import NamedTuple

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

try:  # the ROS library, present on most robots, absent from pip-only installs
    from sensor_msgs_py import point_cloud2 as _pc2
except ImportError:  # pragma: no cover - depends on the machine
    _pc2 = None

FIELD_DTYPES: dict[int, np.dtype] = {
    PointField.INT8: np.dtype(np.int8),
    PointField.UINT8: np.dtype(np.uint8),
    PointField.INT16: np.dtype(np.int16),
    PointField.UINT16: np.dtype(np.uint16),
    PointField.INT32: np.dtype(np.int32),
    PointField.UINT32: np.dtype(np.uint32),
    PointField.FLOAT32: np.dtype(np.float32),
    PointField.FLOAT64: np.dtype(np.float64),
}
_DATATYPE_OF: dict[np.dtype, int] = {dt: code for code, dt in FIELD_DTYPES.items()}
_NATIVE_BIG_ENDIAN = sys.byteorder == "big"
_RESERVED_NAMES = ("x", "y", "z", "rgb")
# the most bytes per point an *empty* cloud may declare (nothing bounds it by its data)
MAX_EMPTY_POINT_BYTES = 1 << 16
# the most values per point (sum of counts): descriptors such as VFH (308) fit, a layout
# that would make numpy build millions of record fields does not
MAX_SUBFIELDS = 4096


class CloudArrays(NamedTuple):
    points: np.ndarray  # (N, 3) float32, row-major over (height, width); NaNs kept
    colors: np.ndarray | None  # (N, 3) float32 in [0, 1]
    organized_shape: tuple[int, int] | None  # (height, width) when height > 1


def _checked_field(field: PointField, index: int, point_step: int) -> tuple[str, np.dtype]:
    """Name and element dtype of one field, refused in O(1) if its declared bytes
    (``offset + count * size``) cannot fit in ``point_step``: a huge ``count`` is refused
    by arithmetic, never by walking it."""
    name = field.name or f"unnamed_field_{index}"
    if field.datatype not in FIELD_DTYPES:
        raise ValueError(
            f"PointCloud2 field '{name}' has unknown datatype {field.datatype}; "
            f"known: {sorted(FIELD_DTYPES)}"
        )
    if field.count < 1:
        raise ValueError(f"PointCloud2 field '{name}' has count {field.count} (< 1)")
    itemsize = FIELD_DTYPES[field.datatype].itemsize
    end = field.offset + field.count * itemsize
    if end > point_step:
        raise ValueError(
            f"PointCloud2 field '{name}' (offset {field.offset}, count {field.count} x "
            f"{itemsize} bytes) runs past point_step {point_step}"
        )
    return name, FIELD_DTYPES[field.datatype]


def structured_dtype(fields: list[PointField], point_step: int, big_endian: bool) -> np.dtype:
    """One numpy record per point, so a cloud is decoded by a view instead of a loop.

    Names follow sensor_msgs_py (``count > 1`` becomes ``name_0 .. name_{count-1}``, an
    empty name becomes ``unnamed_field_i``) so both readers agree field for field. Every
    field is checked against ``point_step`` before it is expanded, so the work is bounded
    by the fields' bytes (at most ``len(fields) * point_step``), i.e. by the message.
    """
    order = ">" if big_endian else "<"
    checked = [_checked_field(field, i, point_step) for i, field in enumerate(fields)]
    expanded = sum(field.count for field in fields)
    if expanded > MAX_SUBFIELDS:  # e.g. a 10 MB one-point cloud of 10M one-byte counts
        raise ValueError(f"PointCloud2 fields expand to {expanded} values per point "
                         f"(> {MAX_SUBFIELDS}); refusing the layout")
    names: list[str] = []
    formats: list[str] = []
    offsets: list[int] = []
    seen: set[str] = set()
    for field, (name, element) in zip(fields, checked):
        base = element.newbyteorder(order)
        for k in range(field.count):
            sub = f"{name}_{k}" if field.count > 1 else name
            if sub in seen:
                raise ValueError(f"PointCloud2 has duplicate field name '{sub}'")
            seen.add(sub)
            names.append(sub)
            formats.append(base.str)
            offsets.append(field.offset + k * base.itemsize)
    return np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step}
    )


def _check_geometry(msg: PointCloud2) -> None:
    """The declared layout (width, height, point_step, row_step) fits the data: O(1)."""
    n = msg.width * msg.height
    if n == 0:
        return
    if msg.point_step <= 0:
        raise ValueError(f"PointCloud2 has {n} points but point_step {msg.point_step}")
    packed_row = msg.width * msg.point_step
    if msg.row_step < packed_row:
        raise ValueError(f"PointCloud2 row_step {msg.row_step} < width*point_step {packed_row}")
    needed = (msg.height - 1) * msg.row_step + packed_row
    if len(msg.data) < needed:
        raise ValueError(
            f"PointCloud2 data has {len(msg.data)} bytes, its header needs {needed} "
            f"({msg.height}x{msg.width} points, point_step {msg.point_step}, "
            f"row_step {msg.row_step})"
        )


def _empty_point_step(msg: PointCloud2) -> int:
    """Empty clouds often carry a sloppy point_step; only the field names matter, but a
    field no real point could hold is still refused (its expansion would be unbounded)."""
    ends = [f.offset + FIELD_DTYPES.get(f.datatype, np.dtype(np.uint8)).itemsize * max(f.count, 1)
            for f in msg.fields]
    step = max([msg.point_step, 1, *ends])
    if step > MAX_EMPTY_POINT_BYTES:
        raise ValueError(f"PointCloud2 is empty but its fields declare {step} bytes per point "
                         f"(> {MAX_EMPTY_POINT_BYTES}); refusing the layout")
    return step


def read_structured_numpy(msg: PointCloud2) -> np.ndarray:
    """(height*width,) structured array of all fields; the numpy path, any layout."""
    _check_geometry(msg)
    n = msg.width * msg.height
    point_step = msg.point_step if n else _empty_point_step(msg)
    dtype = structured_dtype(list(msg.fields), point_step, bool(msg.is_bigendian))
    if n == 0:
        return np.zeros(0, dtype=dtype)
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    packed_row = msg.width * msg.point_step
    if msg.row_step == packed_row:
        rows = raw[: n * msg.point_step]
    else:  # drop each row's padding with one strided copy
        rows = np.ascontiguousarray(
            np.lib.stride_tricks.as_strided(
                raw, shape=(msg.height, packed_row), strides=(msg.row_step, 1)
            )
        ).reshape(-1)
    return rows.view(dtype)


def read_structured(msg: PointCloud2) -> np.ndarray:
    """sensor_msgs_py where it is installed and can read this layout, numpy otherwise."""
    _check_geometry(msg)
    library_can_read = (
        _pc2 is not None
        and msg.width * msg.height > 0
        and msg.row_step == msg.width * msg.point_step
        and bool(msg.is_bigendian) == _NATIVE_BIG_ENDIAN
    )
    if library_can_read:
        # validate fields first: the library asserts or raises KeyError on bad ones
        structured_dtype(list(msg.fields), msg.point_step, bool(msg.is_bigendian))
        return _pc2.read_points(msg)
    return read_structured_numpy(msg)


def _field_view(records: np.ndarray, name: str, as_dtype: np.dtype) -> np.ndarray:
    """Reinterpret one field's bytes (e.g. a float32 'rgb' as the uint32 it really is)."""
    offset = records.dtype.fields[name][1]
    view = np.dtype(
        {
            "names": [name],
            "formats": [as_dtype],
            "offsets": [offset],
            "itemsize": records.dtype.itemsize,
        }
    )
    return np.ascontiguousarray(records).view(view)[name]


def _unit_range(channel: np.ndarray) -> np.ndarray:
    values = channel.astype(np.float32)
    if channel.dtype.kind in "iu" or (values.size and np.nanmax(values) > 1.0):
        values = values / 255.0  # integer channels and float 0..255 channels
    return np.clip(values, 0.0, 1.0)


def _colors(records: np.ndarray) -> np.ndarray | None:
    names = records.dtype.names
    packed = next((n for n in ("rgb", "rgba") if n in names), None)
    if packed is not None:
        fmt = records.dtype.fields[packed][0]
        if fmt.itemsize != 4:
            raise ValueError(f"PointCloud2 field '{packed}' must be 4 bytes, got {fmt}")
        # PCL packs 0x00RRGGBB (alpha in the top byte for rgba) into 4 bytes that
        # producers declare FLOAT32 or UINT32; the bytes, not the float value, matter.
        value = _field_view(records, packed, np.dtype("u4").newbyteorder(fmt.byteorder))
        value = value.astype(np.uint32)
        rgb = np.stack([(value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF], axis=1)
        return rgb.astype(np.float32) / 255.0
    if all(c in names for c in "rgb"):
        return np.stack([_unit_range(records[c]) for c in "rgb"], axis=1)
    return None


def cloud_to_numpy(msg: PointCloud2) -> CloudArrays:
    """Points, colours and organisation of a cloud; NaN points are kept so indices into
    the result stay indices into the message (see ``finite_mask``)."""
    records = read_structured(msg)
    missing = [c for c in "xyz" if c not in (records.dtype.names or ())]
    if missing:
        present = [f.name for f in msg.fields]
        raise ValueError(f"PointCloud2 lacks field(s) {missing}; it has {present}")
    points = np.stack([records[c] for c in "xyz"], axis=1).astype(np.float32)
    organized = (int(msg.height), int(msg.width)) if msg.height > 1 else None
    return CloudArrays(points, _colors(records), organized)


def finite_mask(points: np.ndarray) -> np.ndarray:
    """(N,) bool: points whose x, y and z are all finite (drivers mark holes with NaN)."""
    return np.isfinite(points).all(axis=-1).reshape(-1)


def pack_rgb(colors: np.ndarray) -> np.ndarray:
    """(N,3) float [0,1] or uint8 -> (N,) uint32 0x00RRGGBB, the layout RViz decodes."""
    colors = np.asarray(colors)
    if colors.dtype != np.uint8:
        c = colors.astype(np.float64)
        if c.size and (not np.isfinite(c).all() or c.min() < 0.0 or c.max() > 1.0):
            raise ValueError("float colours must be finite and in [0, 1]")
        colors = np.rint(c * 255.0).astype(np.uint8)
    c32 = colors.astype(np.uint32)
    return (c32[..., 0] << 16) | (c32[..., 1] << 8) | c32[..., 2]


def _layout(colors, extra_fields) -> tuple[list[PointField], np.dtype]:
    fields = [
        PointField(name=c, offset=4 * i, datatype=PointField.FLOAT32, count=1)
        for i, c in enumerate("xyz")
    ]
    formats: list[np.dtype] = [np.dtype(np.float32)] * 3
    offset = 12
    if colors is not None:
        fields.append(PointField(name="rgb", offset=12, datatype=PointField.FLOAT32, count=1))
        formats.append(np.dtype(np.float32))
        offset = 16
    for name, values in extra_fields.items():
        dt = np.asarray(values).dtype
        if not name or name in _RESERVED_NAMES or not isinstance(name, str):
            raise ValueError(f"extra field name {name!r} is empty or reserved {_RESERVED_NAMES}")
        if dt.newbyteorder("=") not in _DATATYPE_OF:
            raise ValueError(
                f"extra field '{name}' has dtype {dt}; PointField supports "
                f"{sorted(str(d) for d in _DATATYPE_OF)}"
            )
        dt = dt.newbyteorder("=")
        offset = -(-offset // dt.itemsize) * dt.itemsize  # natural alignment
        fields.append(PointField(name=name, offset=offset, datatype=_DATATYPE_OF[dt], count=1))
        formats.append(dt)
        offset += dt.itemsize
    align = max(f.itemsize for f in formats)
    point_step = -(-offset // align) * align
    dtype = np.dtype(
        {
            "names": [f.name for f in fields],
            "formats": formats,
            "offsets": [f.offset for f in fields],
            "itemsize": point_step,
        }
    )
    return fields, dtype


def numpy_to_cloud(
    header: Header,
    points: np.ndarray,
    colors: np.ndarray | None = None,
    extra_fields: dict[str, np.ndarray] | None = None,
) -> PointCloud2:
    """Build a cloud RViz and PCL read: float32 xyz, PCL-packed rgb, then ``extra_fields``
    (e.g. ``instance`` int32, ``score`` float32), each naturally aligned.

    ``points`` (N,3) gives an unorganized cloud, (H,W,3) an organized one; colours and
    extra fields must share that leading shape.
    """
    points = np.asarray(points)
    if points.ndim not in (2, 3) or points.shape[-1] != 3:
        raise ValueError(f"points must be (N,3) or (H,W,3), got shape {points.shape}")
    lead = points.shape[:-1]
    extra_fields = dict(extra_fields or {})
    if colors is not None and np.shape(colors) != (*lead, 3):
        raise ValueError(f"colors shape {np.shape(colors)} != points shape {points.shape}")
    for name, values in extra_fields.items():
        if np.shape(values) != lead:
            raise ValueError(f"extra field '{name}' shape {np.shape(values)} != {lead}")
    fields, dtype = _layout(colors, extra_fields)
    n = int(np.prod(lead))
    records = np.zeros(n, dtype=dtype)  # zeroed so padding bytes are deterministic
    flat = points.reshape(n, 3)
    for i, c in enumerate("xyz"):
        records[c] = flat[:, i]
    if colors is not None:
        records["rgb"] = pack_rgb(np.asarray(colors).reshape(n, 3)).view(np.float32)
    for name, values in extra_fields.items():
        records[name] = np.asarray(values).reshape(n)
    height, width = (lead[0], lead[1]) if len(lead) == 2 else (1, n)
    if _pc2 is not None:
        msg = _pc2.create_cloud(header, fields, records, point_step=dtype.itemsize)
    else:
        msg = PointCloud2(
            header=header, fields=fields, point_step=dtype.itemsize, is_bigendian=_NATIVE_BIG_ENDIAN
        )
        data = array.array("B")
        data.frombytes(records.tobytes())
        msg.data = data
    msg.height, msg.width = int(height), int(width)
    msg.row_step = int(width) * dtype.itemsize
    msg.is_dense = bool(np.isfinite(flat).all())
    return msg
