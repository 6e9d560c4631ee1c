"""PCL ``.pcd`` files: binary and binary_compressed through ``pypcd4``, ascii by hand.

pypcd4 decodes the binary encodings (LZF included); this module checks what it does
not: that the header is complete, that the data section is as long as the header
promises (a truncated file would otherwise come back short or as an opaque numpy error)
and that x, y, z exist. ASCII is parsed here because PCL writes a float-typed ``rgb`` field
as its uint32 bit pattern in decimal, which pypcd4 rounds through float32 (colours lost).
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from pypcd4 import PointCloud

from query3d.data.readers.common import bad_file

REQUIRED_KEYS = ("FIELDS", "SIZE", "TYPE", "WIDTH", "POINTS", "DATA")
ENCODINGS = ("ascii", "binary", "binary_compressed")
NUMPY_KIND = {"F": "f", "U": "u", "I": "i"}
MAX_HEADER_LINES = 10  # pypcd4 stops reading the header after ten non-comment lines


def _read_header(raw: bytes, path: Path) -> tuple[dict[str, list[str]], int]:
    """Header keys and the byte offset where the data starts."""
    header: dict[str, list[str]] = {}
    offset = 0
    lines = 0
    while True:
        end = raw.find(b"\n", offset)
        if end < 0:
            raise bad_file(path, "PCD header has no DATA line (truncated or not a PCD file)")
        try:
            line = raw[offset:end].decode("ascii").strip()
        except UnicodeDecodeError as err:
            raise bad_file(path, "PCD header has no DATA line before non-text bytes "
                                 "(not a PCD file?)") from err
        offset = end + 1
        if not line or line.startswith("#"):
            continue
        key, *values = line.split()
        header[key.upper()] = values
        lines += 1
        if key.upper() == "DATA":
            break
    missing = [k for k in REQUIRED_KEYS if k not in header]
    if missing:
        raise bad_file(path, f"PCD header lacks {', '.join(missing)}")
    if lines > MAX_HEADER_LINES:
        raise bad_file(path, f"PCD header has {lines} lines; the format has at most "
                             f"{MAX_HEADER_LINES}")
    return header, offset


def _check_header(header: dict[str, list[str]], path: Path) -> tuple[int, int, int, str]:
    try:
        width, points = int(header["WIDTH"][0]), int(header["POINTS"][0])
        height = int(header.get("HEIGHT", ["1"])[0])
        sizes = [int(s) for s in header["SIZE"]]
        counts = [int(c) for c in header.get("COUNT", ["1"] * len(sizes))]
    except (ValueError, IndexError) as err:
        raise bad_file(path, f"PCD header has a non-integer size or count ({err})") from err
    fields, types = header["FIELDS"], header["TYPE"]
    if not len(fields) == len(sizes) == len(types) == len(counts):
        raise bad_file(path, f"PCD header lists {len(fields)} FIELDS but {len(sizes)} SIZE, "
                             f"{len(types)} TYPE and {len(counts)} COUNT entries")
    unknown = sorted({t for t in types} - set(NUMPY_KIND))
    if unknown or any(s not in (1, 2, 4, 8) for s in sizes):
        raise bad_file(path, f"PCD TYPE must be F, U or I and SIZE 1, 2, 4 or 8; got TYPE "
                             f"{' '.join(types)} SIZE {' '.join(map(str, sizes))}")
    if width * height != points:
        raise bad_file(path, f"PCD header says WIDTH {width} x HEIGHT {height} but "
                             f"POINTS {points}")
    encoding = header["DATA"][0].lower() if header["DATA"] else ""
    if encoding not in ENCODINGS:
        raise bad_file(path, f"unknown PCD DATA encoding {encoding!r}; expected one of "
                             f"{ENCODINGS}")
    for axis in "xyz":
        if axis not in fields:
            raise bad_file(path, f"PCD has no {axis!r} field (fields: {' '.join(fields)})")
    row_bytes = sum(s * c for s, c in zip(sizes, counts))
    return width, height, row_bytes, encoding


def _check_length(raw: bytes, offset: int, points: int, row_bytes: int, encoding: str,
                  path: Path) -> None:
    body = len(raw) - offset
    if encoding == "binary" and body < points * row_bytes:
        raise bad_file(path, f"truncated: binary data needs {points * row_bytes} bytes for "
                             f"{points} points, the file has {body}")
    if encoding == "binary_compressed" and points:
        if body < 8:
            raise bad_file(path, "truncated: binary_compressed data has no size words")
        compressed, uncompressed = struct.unpack("<II", raw[offset:offset + 8])
        if uncompressed != points * row_bytes:
            raise bad_file(path, f"binary_compressed block says {uncompressed} bytes once "
                                 f"decompressed, {points} points need {points * row_bytes}")
        if body - 8 < compressed:
            raise bad_file(path, f"truncated: compressed block of {compressed} bytes, the "
                                 f"file holds {body - 8}")


def _ascii_packed_rgb(values: np.ndarray) -> np.ndarray:
    """PCL prints a packed ``rgb`` float as its integer bit pattern; other writers print
    the float itself. Integers give the bits directly, anything else is the float."""
    finite = values[np.isfinite(values)]
    if np.all((finite == np.round(finite)) & (finite >= 0) & (finite < 2**32)):
        return np.nan_to_num(values).astype(np.uint32).view(np.float32)
    return values.astype(np.float32)


def _read_ascii(body: bytes, header: dict[str, list[str]], points: int,
                path: Path) -> dict[str, np.ndarray]:
    names, types = header["FIELDS"], header["TYPE"]
    sizes = [int(s) for s in header["SIZE"]]
    counts = [int(c) for c in header.get("COUNT", ["1"] * len(names))]
    width = sum(counts)
    try:
        table = np.loadtxt(io.BytesIO(body), dtype=np.float64, ndmin=2, max_rows=points)
    except ValueError as err:
        raise bad_file(path, f"bad PCD ascii row ({err})") from err
    if points and table.shape[1] != width:
        raise bad_file(path, f"PCD ascii rows have {table.shape[1]} values, the header "
                             f"declares {width}")
    if len(table) < points:
        raise bad_file(path, f"truncated: ascii data holds {len(table)} of {points} points")
    fields: dict[str, np.ndarray] = {}
    column = 0
    for name, kind, size, count in zip(names, types, sizes, counts):
        values = table[:, column:column + count]
        column += count
        if name == "_":
            continue
        if name in ("rgb", "rgba") and kind == "F" and size == 4:
            values = _ascii_packed_rgb(values)
        else:
            values = values.astype(np.dtype(f"{NUMPY_KIND[kind]}{size}"))
        fields[name] = values[:, 0] if count == 1 else values
    return fields


def read_pcd_fields(path: str | Path) -> tuple[dict[str, np.ndarray], int, int]:
    """Every field of a PCD file as ``name -> (N,) or (N, count)`` arrays, plus width and
    height. Fields with COUNT > 1 come back as one 2-D array under their own name."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise bad_file(path, f"cannot read ({err.strerror})") from err
    header, offset = _read_header(raw, path)
    width, height, row_bytes, encoding = _check_header(header, path)
    points = width * height
    _check_length(raw, offset, points, row_bytes, encoding, path)
    if encoding == "ascii":
        return _read_ascii(raw[offset:], header, points, path), width, height
    try:
        with path.open("rb") as fp:
            cloud = PointCloud.from_fileobj(fp)
    except Exception as err:  # pypcd4/lzf/numpy raise many types; all mean a bad file
        raise bad_file(path, f"cannot decode PCD {encoding} data ({err})") from err
    data = cloud.pc_data
    if len(data) != points:
        raise bad_file(path, f"truncated: {encoding} data holds {len(data)} of {points} points")
    fields: dict[str, np.ndarray] = {}
    for name, count in zip(header["FIELDS"], (int(c) for c in header.get(
            "COUNT", ["1"] * len(header["FIELDS"])))):
        if name == "_":  # PCL padding
            continue
        if count == 1:
            fields[name] = np.array(data[name])
        else:
            fields[name] = np.stack([data[f"{name}__{i:04d}"] for i in range(count)], axis=1)
    return fields, width, height
