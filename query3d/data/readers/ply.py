"""PLY vertex data (ascii, binary little/big endian), written by hand on purpose.

The well-kept PyPI reader, ``plyfile``, is GPL-3.0 and this package is Apache-2.0, so it is
only used by the tests to cross-check this reader. Only the ``vertex`` element is
returned (a point cloud needs nothing else); other elements are skipped, which in binary
files is possible when they precede the vertices only if they have no list properties.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from query3d.data.readers.common import bad_file

PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}


@dataclass
class _Element:
    name: str
    count: int
    properties: list[tuple[str, str]]  # (name, numpy type)
    has_list: bool = False


def _parse_header(raw: bytes, path: Path) -> tuple[str, list[_Element], int]:
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise bad_file(path, "not a PLY file (no 'ply' magic or no end_header)")
    data_start = raw.find(b"\n", end) + 1
    if data_start == 0:
        raise bad_file(path, "truncated: PLY header ends without a newline")
    fmt = None
    elements: list[_Element] = []
    for number, line in enumerate(raw[:end].decode("ascii", "replace").splitlines(), 1):
        words = line.split()
        if not words or words[0] in ("ply", "comment", "obj_info"):
            continue
        try:
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                elements.append(_Element(words[1], int(words[2]), []))
            elif words[0] == "property" and words[1] == "list":
                elements[-1].has_list = True
                elements[-1].properties.append((words[4], "list"))
            elif words[0] == "property":
                elements[-1].properties.append((words[2], PLY_TYPES[words[1]]))
            else:
                raise ValueError(f"unknown keyword {words[0]!r}")
        except (IndexError, KeyError, ValueError) as err:
            raise bad_file(path, f"bad PLY header line {number}: {line!r} ({err})") from err
    if fmt not in FORMATS:
        raise bad_file(path, f"unknown PLY format {fmt!r}; expected one of {tuple(FORMATS)}")
    return fmt, elements, data_start


def _vertex_element(elements: list[_Element], path: Path) -> int:
    names = [e.name for e in elements]
    if "vertex" not in names:
        raise bad_file(path, f"PLY has no vertex element (elements: {names})")
    index = names.index("vertex")
    vertex = elements[index]
    if vertex.has_list:
        raise bad_file(path, "PLY vertex element has a list property; not a point cloud")
    if not {"x", "y", "z"} <= {p for p, _ in vertex.properties}:
        raise bad_file(path, "PLY vertex element lacks x, y or z")
    return index


def _read_binary(raw: bytes, start: int, elements: list[_Element], index: int,
                 order: str, path: Path) -> np.ndarray:
    offset = start
    for element in elements[:index]:
        if element.has_list:
            raise bad_file(path, f"PLY element {element.name!r} with list properties comes "
                                 "before the vertices; unsupported in binary files")
        offset += element.count * np.dtype([(n, order + t) for n, t in element.properties]
                                           ).itemsize
    vertex = elements[index]
    dtype = np.dtype([(n, order + t) for n, t in vertex.properties])
    needed = vertex.count * dtype.itemsize
    if len(raw) - offset < needed:
        raise bad_file(path, f"truncated: {vertex.count} vertices need {needed} bytes, "
                             f"the file has {max(len(raw) - offset, 0)}")
    return np.frombuffer(raw, dtype=dtype, count=vertex.count, offset=offset).copy()


def _read_ascii(raw: bytes, start: int, elements: list[_Element], index: int,
                path: Path) -> np.ndarray:
    lines = raw[start:].decode("ascii", "replace").splitlines()
    first = sum(e.count for e in elements[:index])
    vertex = elements[index]
    rows = lines[first:first + vertex.count]
    if len(rows) < vertex.count:
        raise bad_file(path, f"truncated: {vertex.count} vertex lines expected, found "
                             f"{len(rows)}")
    width = len(vertex.properties)
    out = np.empty(vertex.count, dtype=[(n, t) for n, t in vertex.properties])
    try:
        table = np.array([row.split() for row in rows], dtype=np.float64)
    except ValueError as err:
        for number, row in enumerate(rows):
            words = row.split()
            if len(words) != width:
                raise bad_file(path, f"vertex {number} has {len(words)} values, the header "
                                     f"declares {width}") from err
        raise bad_file(path, f"vertex data is not numeric ({err})") from err
    if table.ndim != 2 or table.shape[1] != width:
        raise bad_file(path, f"vertex rows have {table.shape[-1]} values, header declares "
                             f"{width}")
    for column, (name, _) in enumerate(vertex.properties):
        out[name] = table[:, column]
    return out


def read_ply_vertices(path: str | Path) -> np.ndarray:
    """The vertex element of a PLY file as a structured array (property name -> column)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise bad_file(path, f"cannot read ({err.strerror})") from err
    fmt, elements, start = _parse_header(raw, path)
    index = _vertex_element(elements, path)
    if fmt == "ascii":
        return _read_ascii(raw, start, elements, index, path)
    return _read_binary(raw, start, elements, index, FORMATS[fmt], path)
