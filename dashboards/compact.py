"""Figures for an HTML report, kept small: hover details as indices into tables of distinct strings, plotly.js basic.

A 10,000-patient swimmer carries a hover text for each of ~180,000 points, most of it repeated (the patient id,
the drug, the day, the AE term): as JSON strings that is 20 MB. :func:`pack_figure` splits every long string array
of a trace (``hovertext``, ``text``, ``customdata``, ``hovertemplate``) at ``<br>`` into parts and keeps, for each part, its distinct
values once and an integer array (typed, base64) of indices into them; the page's script
(:data:`UNPACK_JS`) rebuilds the arrays before plotly draws, so the hover labels are the ones the figure was made
with. Whole-number coordinates go as int16/int32, others as float32 where that is exact or the trace is long.
A fill-only line of shapes joined without gaps (:func:`join_shapes`: the swimmer's glyphs and bars, the
waterfall's bars above their limits) goes as a few numbers per shape (:func:`shape_columns`: a glyph's position,
a bar's ends) and its strings once per shape; the page rebuilds the vertices. A line of polylines from one start, each going out and back along itself
(:func:`mirror_lines`, the spider), goes as the polylines once and their lengths. The plotly.js bundle is the smallest of plotly's
distributions that draws every trace type in the report (:func:`plotly_bundle`): ``basic`` (scatter, bar, pie),
shipped in ``dashboards/assets`` with its licence, else the full bundle of the installed plotly package.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.basedatatypes import BasePlotlyType
from plotly.utils import PlotlyJSONEncoder

__all__ = [
    "BASIC_TRACE_TYPES",
    "UNPACK_JS",
    "PackedFigure",
    "figure_dict",
    "figure_html",
    "join_shapes",
    "mirror_lines",
    "pack_figure",
    "plotly_bundle",
    "shape_columns",
    "shape_period",
    "shapes_trace",
    "standalone_html",
    "unpack_figure",
    "unpack_strings",
]

#: Trace types plotly.js's ``basic`` partial bundle draws (plotly.js-basic-dist-min, same version as plotly.py's).
BASIC_TRACE_TYPES: frozenset[str] = frozenset({"scatter", "bar", "pie"})
#: String arrays shorter than this stay as they are.
MIN_PACKED = 64
_PACKED_KEYS = ("hovertext", "text", "customdata", "hovertemplate")
_SEP = "<br>"

#: Rebuilds packed string arrays and glyph lines, then draws: ``tkPlot(div id, figure, packed, config)``; ``packed``
#: is ``{"tables": [distinct values of part 0, of part 1, ...], "traces": {trace: {key: [[base64, dtype], ...]}},
#: "glyphs": {trace: {"period": p, "x": {"cols": [typed array, ...], "src": [...], "off": [...]}, "y": {...},
#: "keys": [string keys given per shape]}}}``: vertex j of shape i is ``cols[src[j]][i] + off[j]``; after the
#: shapes the line goes back through the shapes' first vertices (:func:`join_shapes`).
UNPACK_JS = """
function tkIdx(b64, dtype) {
  var bin = atob(b64), buf = new ArrayBuffer(bin.length), u8 = new Uint8Array(buf);
  for (var i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  return dtype === "u1" ? u8 : dtype === "u2" ? new Uint16Array(buf) : new Int32Array(buf);
}
function tkUnpack(tables, parts) {
  var cols = parts.map(function (p, j) { return [tables[j], tkIdx(p[0], p[1])]; });
  var n = cols[0][1].length, out = new Array(n);
  for (var i = 0; i < n; i++) {
    var s = null;
    for (var j = 0; j < cols.length; j++) {
      var v = cols[j][0][cols[j][1][i]];
      if (v === null) continue;
      s = s === null ? v : s + "<br>" + v;
    }
    out[i] = s;
  }
  return out;
}
var TK_TYPES = {i1: Int8Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array,
                f4: Float32Array, f8: Float64Array};
function tkTyped(v) {
  if (!v || !v.bdata) return v;
  var bin = atob(v.bdata), buf = new ArrayBuffer(bin.length), u8 = new Uint8Array(buf);
  for (var i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  return new TK_TYPES[v.dtype](buf);
}
function tkGlyphs(trace, g) {
  var p = g.period;
  function back(out, n) {
    for (var m = 0; m < n - 1; m++) out[n * p + m] = out[(n - 2 - m) * p];
  }
  ["x", "y"].forEach(function (k) {
    var cols = g[k].cols.map(tkTyped), src = g[k].src, off = g[k].off, n = cols[0].length;
    var out = new Float64Array(n * (p + 1) - 1);
    for (var i = 0; i < n; i++) {
      for (var j = 0; j < p; j++) out[i * p + j] = cols[src[j]][i] + off[j];
    }
    back(out, n);
    trace[k] = out;
  });
  g.keys.forEach(function (k) {
    var v = trace[k], n = v.length, out = new Array(n * (p + 1) - 1);
    for (var i = 0; i < n; i++) {
      for (var j = 0; j < p; j++) out[i * p + j] = v[i];
    }
    back(out, n);
    trace[k] = out;
  });
}
function tkMirror(trace, m) {
  var lengths = tkTyped(m.lengths);
  ["x", "y"].concat(m.keys).forEach(function (k) {
    var v = tkTyped(trace[k]), out = [], at = 0;
    for (var i = 0; i < lengths.length; i++) {
      var n = lengths[i];
      for (var j = 0; j < n; j++) out.push(v[at + j]);
      for (j = n - 2; j > 0; j--) out.push(v[at + j]);
      at += n;
    }
    trace[k] = out;
  });
}
function tkPlot(id, fig, packed, config) {
  Object.keys(packed.traces || {}).forEach(function (t) {
    Object.keys(packed.traces[t]).forEach(function (k) {
      fig.data[+t][k] = tkUnpack(packed.tables, packed.traces[t][k]);
    });
  });
  Object.keys(packed.glyphs || {}).forEach(function (t) { tkGlyphs(fig.data[+t], packed.glyphs[t]); });
  Object.keys(packed.mirror || {}).forEach(function (t) { tkMirror(fig.data[+t], packed.mirror[t]); });
  Plotly.newPlot(id, fig.data, fig.layout, config);
}
"""


def plotly_bundle(figures: list[go.Figure | PackedFigure]) -> tuple[str, str]:
    """(name, source) of the smallest plotly.js bundle that draws every trace of ``figures``."""
    types = {t for f in figures for t in (f.trace_types if isinstance(f, PackedFigure) else _trace_types(f))}
    if types <= BASIC_TRACE_TYPES:
        source = resources.files("tkitrack.dashboards").joinpath("assets/plotly-basic.min.js").read_text("utf-8")
        return "plotly.js basic", source
    from plotly.offline import get_plotlyjs

    return "plotly.js", get_plotlyjs()


def _index_array(codes: np.ndarray) -> list:
    top = int(codes.max()) if len(codes) else 0
    dtype = "u1" if top <= 0xFF else "u2" if top <= 0xFFFF else "i4"
    raw = codes.astype({"u1": "<u1", "u2": "<u2", "i4": "<i4"}[dtype]).tobytes()
    return [base64.b64encode(raw).decode("ascii"), dtype]


def _string_parts(values: Any) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """The ``<br>`` parts of a string array as ``(codes, parts)``, or None: ``parts[j]`` holds part ``j`` of each
    distinct string (None past a string's end) and ``codes`` say which distinct string each cell is (-1: missing),
    so that cell ``i``'s part ``j`` is ``parts[j][codes[i]]``.

    Each distinct string is split once, and by numpy's string functions: hover texts repeat (a patient's id on
    every vertex of its line), and splitting a registry's million distinct strings into Python lists took seconds
    (most of it the garbage collector going over the lists).
    """
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1 or len(arr) < MIN_PACKED:
        return None
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)  # a missing value (None, NaN) gets -1
    if pd.api.types.infer_dtype(uniques, skipna=False) not in ("string", "empty"):
        return None
    return codes, _split_parts(uniques)


#: numpy's vectorised ``partition`` of strings (numpy 2.1 and later); with an older numpy strings are split in Python
_NUMPY_PARTITION = hasattr(getattr(np, "strings", None), "partition")


def _split_parts(strings: np.ndarray) -> list[np.ndarray]:
    """Part ``j`` of each string split at ``<br>``, for each ``j`` (None past a string's end; at least one part).

    >>> [p.tolist() for p in _split_parts(np.array(["a<br>b", "c", "<br>"], dtype=object))]
    [['a', 'c', ''], ['b', None, '']]
    """
    rest = None
    if _NUMPY_PARTITION:
        try:
            rest = np.asarray(strings, dtype=np.dtypes.StringDType())
        except UnicodeEncodeError:  # a lone surrogate, which UTF-8 cannot hold: split in Python
            rest = None
    if rest is None:
        split = [s.split(_SEP) for s in strings]
        width = max(map(len, split), default=1)
        return [np.array([s[j] if j < len(s) else None for s in split], dtype=object) for j in range(width)]
    sep = np.asarray(_SEP, dtype=rest.dtype)
    alive = np.ones(len(rest), dtype=bool)  # the strings that have a part j
    parts = []
    while not parts or alive.any():
        before, found, rest = np.strings.partition(rest, sep)
        part = before.astype(object)
        part[~alive] = None
        parts.append(part)
        alive &= found != ""
    return parts


def unpack_strings(tables: list[list], parts: list) -> list[str | None]:
    """The inverse of the packing, as the page's script does it (for tests and for reading a report's data)."""
    cols = []
    for j, (b64, dtype) in enumerate(parts):
        codes = np.frombuffer(base64.b64decode(b64), dtype={"u1": "<u1", "u2": "<u2", "i4": "<i4"}[dtype])
        cols.append((tables[j], codes))
    out: list[str | None] = []
    for i in range(len(cols[0][1])):
        found = [table[codes[i]] for table, codes in cols if table[codes[i]] is not None]
        out.append(_SEP.join(found) if found else None)
    return out


def unpack_figure(figure: dict, packed: dict) -> list[dict]:
    """The traces as the page's script hands them to plotly: strings unpacked, glyph lines rebuilt (x and y as
    float64 arrays, other typed arrays decoded). For tests and for reading a report's data."""
    data = [dict(props) for props in figure["data"]]
    for trace, keys in packed.get("traces", {}).items():
        for key, parts in keys.items():
            data[int(trace)][key] = unpack_strings(packed["tables"], parts)
    for props in data:
        for key in ("x", "y"):
            decoded = _decode(props.get(key))
            if decoded is not None:
                props[key] = decoded.astype("float64")
    for trace, g in packed.get("glyphs", {}).items():
        props, p = data[int(trace)], g["period"]
        for key in ("x", "y"):
            cols = [_decode(c).astype("float64") for c in g[key]["cols"]]
            blocks = np.column_stack([cols[s] + o for s, o in zip(g[key]["src"], g[key]["off"], strict=True)])
            props[key] = np.concatenate([blocks.ravel(), blocks[-2::-1, 0]])
        for key in g["keys"]:
            blocks = np.repeat(np.asarray(props[key], dtype=object)[:, None], p, axis=1)
            props[key] = np.concatenate([blocks.ravel(), blocks[-2::-1, 0]]).tolist()
    for trace, m in packed.get("mirror", {}).items():
        props, index = data[int(trace)], mirror_lines(_decode(m["lengths"]).astype(np.int64))
        for key in ("x", "y", *m["keys"]):
            props[key] = np.asarray(props[key], dtype="float64" if key in "xy" else object)[index]
            if key not in "xy":
                props[key] = props[key].tolist()
    return data


_DTYPES = {"i1": "<i1", "u1": "<u1", "i2": "<i2", "u2": "<u2", "i4": "<i4", "u4": "<u4", "f4": "<f4", "f8": "<f8"}
#: plotly.js's code of each numpy dtype it takes as a typed array (the inverse of :data:`_DTYPES`).
_CODES = {np.dtype(t).name: code for code, t in _DTYPES.items()}


def _typed_spec(values: np.ndarray, code: str) -> dict:
    """``values`` as plotly.js's typed array spec of dtype ``code`` (``{"dtype": code, "bdata": base64}``)."""
    return {"dtype": code, "bdata": base64.b64encode(values.astype(_DTYPES[code]).tobytes()).decode("ascii")}


def _decode(value: Any) -> np.ndarray | None:
    """A typed array spec's values; a numeric array not typed yet (:func:`pack_figure`'s coordinates) as its
    spec would give them back; None for anything else."""
    if isinstance(value, np.ndarray):
        code = _typed_code(value)
        return None if code is None else value.astype(_DTYPES[code], copy=False)
    if isinstance(value, dict) and value.get("dtype") in _DTYPES and "bdata" in value and "shape" not in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=_DTYPES[value["dtype"]])
    return None


def _integral_axis(props: dict) -> None:
    """Whole-number coordinates (days, lanes) as int16/int32 instead of floats.

    A line's gaps are NaN in both x and y; one axis keeps its NaN (the line still breaks there: plotly skips a
    point whose x or y is missing) and the other takes the previous value, which leaves it whole numbers.
    """
    x, y = _decode(props.get("x")), _decode(props.get("y"))
    if x is None or y is None or len(x) != len(y) or len(x) < MIN_PACKED:
        return
    for key, a, b in (("x", x, y), ("y", y, x)):
        if a.dtype.kind != "f":
            continue
        gap = np.isnan(a)
        if gap.any() and (b.dtype.kind != "f" or not np.isnan(b[gap]).all()):
            continue
        valid = a[~gap]
        if not len(valid) or not np.array_equal(valid, np.round(valid)) or np.abs(valid).max() >= 2**31:
            continue
        index = np.where(~gap, np.arange(len(a)), 0)
        np.maximum.accumulate(index, out=index)  # each gap takes the value before it (the first valid one at the start)
        filled = a[index]
        filled[np.isnan(filled)] = valid[0]
        dtype = "i2" if np.abs(valid).max() < 2**15 else "i4"
        props[key] = _typed_spec(filled, dtype)
        return


def _typed_len(value: Any) -> int:
    """The length of a typed array (spec, or numeric array not typed yet); 0 for anything else."""
    if isinstance(value, np.ndarray):
        return len(value) if _typed_code(value) is not None else 0
    if isinstance(value, dict) and "bdata" in value:
        return len(base64.b64decode(value["bdata"])) // int(value["dtype"][1:])
    return 0


def _float32(value: Any, *, exact: bool) -> Any:
    """A float64 typed array (plotly's ``{"dtype": "f8", "bdata": ...}``, or a float64 array not typed yet) as
    float32: always, or when exact."""
    arr = _decode(value)
    if arr is None or arr.dtype != np.dtype("<f8"):
        return value
    small = arr.astype("<f4")
    if arr.size < MIN_PACKED or (exact and not np.array_equal(small.astype("<f8"), arr, equal_nan=True)):
        return value
    return _typed_spec(small, "f4")


def _reads_customdata(props: dict) -> bool:
    for key in ("hovertemplate", "texttemplate"):
        value = props.get(key)
        if value is None:
            continue
        values = [value] if isinstance(value, str) else np.unique(np.asarray(value, dtype=object).astype(str))
        if any("customdata" in v for v in values):
            return True
    return False


def join_shapes(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Shapes as one line without gaps: ``n x p`` arrays (a row per shape, x, y and any per-vertex values), each
    row starting and ending at the same point (its anchor), laid out row after row and then back through the
    anchors of rows ``n - 2`` to ``0``.

    Filled (``fill="toself"``), every way between two shapes is gone along twice, once in each direction, so it
    adds no area: the fill is the shapes. Plotly draws a line's pieces between gaps as an SVG element each (and
    makes, styles and removes one per piece even when it draws no line), so a line of shapes without gaps is
    one element whatever the number of shapes.

    >>> x, = join_shapes(np.array([[0, 1, 0], [5, 6, 5], [9, 8, 9]]))
    >>> x.tolist()
    [0, 1, 0, 5, 6, 5, 9, 8, 9, 5, 0]
    """
    out = []
    for a in arrays:
        a = np.asarray(a)
        out.append(np.concatenate([a.ravel(), a[-2::-1, 0]]) if len(a) else a.ravel())
    return tuple(out)


def shapes_trace(**props: Any) -> go.Scatter:
    """A trace of shapes laid out by :func:`join_shapes`: fill only (``mode="none"``, ``fill="toself"``, which
    :func:`pack_figure` recognises and packs per shape), hover on the vertices with their ``hovertext``; ``props``
    give the coordinates, strings, colour, pattern, name and legend."""
    return go.Scatter(mode="none", fill="toself", hoverinfo="text", hoveron="points", **props)


def mirror_lines(lengths: np.ndarray) -> np.ndarray:
    """Indices that lay polylines (given one after another, of ``lengths`` points) out as one line: each polyline
    forward and back along itself to its second point, so that the next one starts where the first began.

    >>> mirror_lines(np.array([3, 2])).tolist()
    [0, 1, 2, 1, 3, 4]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    laid = np.where(lengths == 1, 1, 2 * lengths - 2)  # forward n points, back n - 2 (a single point: itself)
    k = _ranges(np.zeros(len(lengths), dtype=np.int64), laid)  # position within each polyline's run
    n = np.repeat(lengths, laid)
    return (np.repeat(starts, laid) + np.where(k < n, k, 2 * n - 2 - k)).astype(int)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``start, start + 1, ..., start + length - 1`` for each pair, one after another (no Python loop).

    >>> _ranges(np.array([5, 0]), np.array([3, 2])).tolist()
    [5, 6, 7, 0, 1]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(np.asarray(starts, dtype=np.int64), lengths) + offsets


def _unmirror(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """The polyline lengths when a line (no gaps) is laid out as :func:`mirror_lines` with every polyline starting
    at its first point, and that point nowhere else; else None."""
    if len(x) < 2 or np.isnan(x).any() or np.isnan(y).any():
        return None
    hubs = np.flatnonzero((x == x[0]) & (y == y[0]))
    spans = np.diff(np.r_[hubs, len(x)])
    if (spans % 2).any():
        return None
    lengths = spans // 2 + 1
    index = mirror_lines(lengths)
    forward = _ranges(hubs, lengths)
    if len(index) != len(x):
        return None
    fx, fy = x[forward], y[forward]
    if not (np.array_equal(fx[index], x) and np.array_equal(fy[index], y)):
        return None
    return lengths


def shape_period(x: np.ndarray, y: np.ndarray) -> int | None:
    """``p`` when a line is shapes of ``p`` vertices joined as :func:`join_shapes` lays them out (``p >= 3``), the
    smallest such; else None.

    >>> shape_period(np.array([0, 1, 0, 5, 6, 5, 9, 8, 9, 5, 0]), np.zeros(11))
    3
    """
    x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    total = len(x) + 1  # n shapes of p vertices and n - 1 anchors back: n * (p + 1)
    if len(y) != len(x) or len(x) < 3 or np.isnan(x).any() or np.isnan(y).any():
        return None
    for p in range(3, total):
        if total % (p + 1):
            continue
        n = total // (p + 1)
        ok = True
        for a in (x, y):
            blocks = a[: n * p].reshape(n, p)
            if not (np.array_equal(blocks[:, 0], blocks[:, -1]) and np.array_equal(a[n * p :], blocks[-2::-1, 0])):
                ok = False
                break
        if ok:
            return p
    return None


def shape_columns(v: np.ndarray) -> tuple[list[np.ndarray], list[int], list[float]]:
    """One coordinate of ``n`` shapes (an ``n x k`` array, a row per shape) as few columns: ``(columns, src, off)``
    with vertex ``j`` of every shape ``columns[src[j]] + off[j]`` (within 1e-9 of the largest value).

    A vertex at a fixed offset from an earlier column takes that column; any other vertex is a column of its
    own. A column around whole numbers (days, lanes) is stored as whole numbers, its fraction moved to ``off``.

    >>> cols, src, off = shape_columns(np.array([[10.25, 11.25, 20.0], [30.25, 31.25, 35.0]]))
    >>> [c.tolist() for c in cols], src, off
    ([[10.0, 30.0], [20.0, 35.0]], [0, 0, 1], [0.25, 1.25, 0.0])
    """
    tol = 1e-9 * max(1.0, float(np.abs(v).max()) if v.size else 1.0)
    cols: list[np.ndarray] = []
    src: list[int] = []
    off: list[float] = []
    for j in range(v.shape[1]):
        for c, col in enumerate(cols):
            d = v[:, j] - col
            if np.abs(d - d[0]).max() <= tol:
                src.append(c)
                off.append(float(d[0]))
                break
        else:
            col = v[:, j]
            shift = col[0] - np.round(col[0])
            whole = np.round(col - shift)
            if np.abs(col - shift - whole).max() <= tol:
                col = whole
            else:
                shift = 0.0
            cols.append(col)
            src.append(len(cols) - 1)
            off.append(float(shift))
    return cols, src, off


def _per_shape(values: Any, p: int) -> np.ndarray | None:
    """Each shape's value when a string array laid out as :func:`join_shapes` is constant within each shape."""
    arr = np.asarray(values, dtype=object)
    n = (len(arr) + 1) // (p + 1)
    if arr.ndim != 1 or n * (p + 1) - 1 != len(arr):
        return None
    blocks = arr[: n * p].reshape(n, p)
    if not (blocks == blocks[:, :1]).all() or not (arr[n * p :] == blocks[-2::-1, 0]).all():
        return None
    return blocks[:, 0]


def _typed_column(col: np.ndarray, *, lossy: bool) -> dict:
    if len(col) and np.array_equal(col, np.round(col)) and np.abs(col).max() < 2**31:
        dtype = "i2" if np.abs(col).max() < 2**15 else "i4"
    else:
        exact = np.array_equal(col.astype("<f4").astype("<f8"), col)
        dtype = "f4" if lossy or exact else "f8"
    return _typed_spec(col, dtype)


def _pack_shapes(props: dict, lossy_points: int) -> dict | None:
    """A fill-only line of shapes (``mode="none"``, :func:`join_shapes`): its coordinates as :func:`shape_columns`
    and its strings once per shape, taken out of ``props``; what the page rebuilds them from."""
    x, y = _decode(props.get("x")), _decode(props.get("y"))
    if props.get("mode") != "none" or x is None or y is None or len(x) < MIN_PACKED:
        return None
    p = shape_period(x, y)
    if p is None:
        return None
    n = (len(x) + 1) // (p + 1)
    strings = {}
    for key in _PACKED_KEYS:
        if props.get(key) is not None and not isinstance(props[key], (str, dict)):
            shapes = _per_shape(props[key], p)
            if shapes is None:
                return None
            strings[key] = shapes
    out: dict[str, Any] = {"period": p}
    for key, a in (("x", x), ("y", y)):
        cols, src, off = shape_columns(a[: n * p].reshape(n, p))
        lossy = len(a) >= lossy_points
        out[key] = {"cols": [_typed_column(c, lossy=lossy) for c in cols], "src": src, "off": off}
        del props[key]
    for key, values in strings.items():
        props[key] = values.tolist()
    out["keys"] = list(strings)
    return out


def _pack_mirror(props: dict) -> dict | None:
    """A line of polylines out and back (:func:`mirror_lines`): the polylines once, in place of the line in
    ``props`` (coordinates and strings); their lengths for the page to lay them out again."""
    x, y = _decode(props.get("x")), _decode(props.get("y"))
    if props.get("mode") != "lines" or x is None or y is None or len(x) < MIN_PACKED:
        return None
    lengths = _unmirror(x, y)
    if lengths is None:
        return None
    index = mirror_lines(lengths)
    forward = _ranges(np.r_[0, np.cumsum(2 * lengths - 2)[:-1]], lengths)
    keys = []
    for key in _PACKED_KEYS:
        value = props.get(key)
        if value is not None and not isinstance(value, (str, dict)):
            arr = np.asarray(value, dtype=object)
            if len(arr) != len(x) or not (arr[forward][index] == arr).all():
                return None
            keys.append(key)
    for key in keys:
        props[key] = np.asarray(props[key], dtype=object)[forward].tolist()
    for key, a in (("x", x), ("y", y)):
        props[key] = _typed_spec(a[forward], "f8")
    codes = _index_array(lengths.astype(np.int64))
    return {"lengths": {"dtype": codes[1], "bdata": codes[0]}, "keys": keys}


def _typed_array(value: np.ndarray) -> Any:
    """A numeric array as plotly.js's typed array spec, 64-bit integers narrowed to the smallest that holds them
    (else left as they are, as ``to_dict`` leaves them); any other value as it is."""
    code = _typed_code(value)
    return value if code is None else _typed_spec(value, code)


def _typed_code(value: np.ndarray) -> str | None:
    """The typed array dtype code :func:`_typed_array` gives ``value`` (None: left as it is)."""
    if value.size == 0 or value.ndim != 1:
        return None
    if value.dtype.name in ("int64", "uint64"):
        low, high = int(value.min()), int(value.max())
        fits = (c for c in ("i1", "i2", "i4") if np.iinfo(_DTYPES[c]).min <= low and high <= np.iinfo(_DTYPES[c]).max)
        return next(fits, None)
    return _CODES.get(value.dtype.name)


#: Trace properties that may hold an array of strings, with a placeholder of the same kind that costs nothing to copy.
_TEXT_PLACEHOLDERS = (("customdata", ()), ("hovertext", ""), ("text", ""))


def add_trace(fig: go.Figure, trace: BasePlotlyType, **kwargs: Any) -> None:
    """``fig.add_trace(trace, **kwargs)`` without plotly's element-by-element copy of its arrays of strings.

    ``add_trace`` deep-copies a trace's properties, and numpy deep-copies an object array one element at a time
    (two million hover strings: about a second, and a second copy of them held until the original is let go).
    Here each such array gives its place to a placeholder of the same kind, and is set on the added trace through
    the public property access afterwards: the figure's JSON is the same, keys in the same order.
    """
    held = {}
    for key, placeholder in _TEXT_PLACEHOLDERS:
        value = trace[key] if key in trace else None
        if isinstance(value, np.ndarray) and value.dtype == object:
            held[key] = value
            trace[key] = placeholder
    fig.add_trace(trace, **kwargs)
    added = fig.data[-1]
    for key, value in held.items():
        added[key] = value


def figure_dict(fig: go.Figure) -> dict:
    """The figure as plotly JSON (``{"data": [...], "layout": {...}}``), numeric arrays as typed arrays.

    ``fig.to_dict()`` deep-copies every array first, and an object array (hover text) element by element: for a
    registry's swimmer, millions of calls and one more copy of every array at the peak of writing it. Here the
    traces' own (read-only) arrays are read through the public property access and only the small nested
    objects (marker, line, legend title...) are copied; the layout is ``fig.layout.to_plotly_json()``.
    """
    return {"data": _trace_dicts(fig), "layout": _layout_dict(fig)}


def _trace_dicts(fig: go.Figure, untyped: frozenset[str] = frozenset()) -> list[dict]:
    """:func:`figure_dict`'s traces, the numeric arrays of the properties in ``untyped`` left as numpy arrays."""
    data = []
    for trace in fig.data:
        props: dict[str, Any] = {}
        for name in trace:
            value = trace[name]
            if value is None:
                continue
            if isinstance(value, BasePlotlyType):
                value = value.to_plotly_json()
                if not value:
                    continue
                _type_nested(value)
            elif isinstance(value, np.ndarray) and name not in untyped:
                value = _typed_array(value)
            elif isinstance(value, tuple):  # plotly hands a given list back as a tuple
                value = list(value)
            props[name] = value
        data.append(dict(sorted(props.items())))
    return data


def _layout_dict(fig: go.Figure) -> dict:
    layout = fig.layout.to_plotly_json()
    _type_nested(layout)
    return layout


#: Keys whose arrays plotly's ``to_dict`` leaves as lists (axis ranges, maps).
_UNTYPED_KEYS = frozenset({"range", "geojson", "layer", "layers"})


def _type_nested(value: Any) -> None:
    """Numeric arrays anywhere in nested dicts and lists as typed arrays, in place (as ``to_dict`` does)."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in list(items):
        if key in _UNTYPED_KEYS:
            continue
        if isinstance(item, np.ndarray):
            value[key] = _typed_array(item)
        elif isinstance(item, (dict, list)):
            _type_nested(item)


def pack_figure(fig: go.Figure, *, lossy_points: int = 2_000, consume: bool = False) -> tuple[dict, dict]:
    """(figure as a plotly JSON dict with long string arrays taken out, the packed arrays).

    Custom data that no template of the trace reads is left out (a static page has no click handlers). In traces
    of ``lossy_points`` points or more, coordinates go as float32 (7 significant digits, beyond what the axes and
    hover labels show); elsewhere only when float32 holds them exactly.

    ``consume``: the figure's arrays are unset in ``fig`` once read, so that each trace's coordinates and
    strings are freed as soon as they are packed, not held to the end beside what they were packed into (a
    registry's swimmer: a quarter of a GiB). For a caller that has no further use for the figure.
    """
    # the coordinates stay numpy arrays until packed: typing them as figure_dict does, and then decoding them to pack
    # them, took a registry's report a base64 round trip of every coordinate
    figure = {"data": _trace_dicts(fig, untyped=frozenset({"x", "y"})), "layout": _layout_dict(fig)}
    if consume:  # each array property unset (emptying fig.data would deep-copy every removed trace's properties)
        for trace in fig.data:
            for name in [n for n in trace if isinstance(trace[n], (np.ndarray, tuple))]:
                trace[name] = None
    found: list[tuple[str, str, np.ndarray, list[np.ndarray]]] = []
    glyphs: dict[str, dict] = {}
    mirror: dict[str, dict] = {}
    for i, props in enumerate(figure["data"]):
        if "customdata" in props and not _reads_customdata(props):
            del props["customdata"]
        shapes = _pack_shapes(props, lossy_points)
        if shapes is not None:
            glyphs[str(i)] = shapes
        there_and_back = _pack_mirror(props)
        if there_and_back is not None:
            mirror[str(i)] = there_and_back
        for key in _PACKED_KEYS:
            value = props.get(key)
            if value is not None and not isinstance(value, (str, dict)):
                split = _string_parts(value)
                if split is not None:
                    found.append((str(i), key, *split))
                    del props[key]
        _integral_axis(props)
        big = any(_typed_len(props.get(k)) >= lossy_points for k in ("x", "y"))
        for key in ("x", "y"):
            if key in props:
                value = _float32(props[key], exact=not big)
                props[key] = _typed_array(value) if isinstance(value, np.ndarray) else value
    # part j of every array's distinct strings, one array after another: their distinct values come in the order
    # of the cells' (a part first seen in a later distinct string is first seen in a later cell)
    width = max((len(p) for _, _, _, p in found), default=0)
    tables, codes_by_part = [], []
    for j in range(width):
        column = np.concatenate([p[j] if j < len(p) else np.full(len(p[0]), None, dtype=object)
                                 for _, _, _, p in found])  # fmt: skip
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        tables.append([None, *uniques.tolist()])  # code 0: no such part
        codes_by_part.append(codes + 1)
    packed: dict[str, Any] = {"tables": tables, "traces": {}}
    offset = 0
    for trace, key, cells, parts in found:
        n = len(parts[0])  # distinct strings; a missing cell (-1) takes the 0 appended after them
        packed["traces"].setdefault(trace, {})[key] = [
            _index_array(np.append(c[offset : offset + n], 0)[cells]) for c in codes_by_part[: len(parts)]
        ]
        offset += n
    if glyphs:
        packed["glyphs"] = glyphs
    if mirror:
        packed["mirror"] = mirror
    return figure, packed


class _FiniteEncoder(PlotlyJSONEncoder):
    """Plotly's encoder (numpy arrays, dates, ...) writing its JSON once: for values without NaN or infinities."""

    encode = json.JSONEncoder.encode


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>`` or ``<!--`` can close or confuse it).

    Plotly's encoder writes NaN and infinities as ``null`` by parsing its JSON again and writing it once more
    whenever the text holds "NaN" anywhere (a base64 array mostly does); the same text is written once here when
    the value holds no such number, and by plotly's encoder when it does.
    """
    try:
        text = json.dumps(value, cls=_FiniteEncoder, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or an infinity
        text = json.dumps(value, cls=PlotlyJSONEncoder, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _trace_types(fig: go.Figure) -> set[str]:
    return {t.type or "scatter" for t in fig.data}


@dataclass(frozen=True)
class PackedFigure:
    """A figure as the page draws it (:func:`pack_figure`'s JSON and packed arrays, as the script-safe JSON text the
    page holds; size, trace types), without the ``go.Figure``: a large report keeps these instead of figures, whose
    hover strings are most of its memory. The text, not the dicts: the packed tables of a registry's swimmer are a
    million short strings, which as objects took twice their text's memory and left the small-object heap
    fragmented under every later section."""

    figure_json: str
    packed_json: str
    width: int | None
    height: int | None
    trace_types: frozenset[str]

    @classmethod
    def of(cls, fig: go.Figure, *, consume: bool = False) -> PackedFigure:
        """``fig`` packed once; ``consume``: its traces are let go of as they are packed (see :func:`pack_figure`)."""
        types = frozenset(_trace_types(fig))
        figure, packed = pack_figure(fig, consume=consume)
        return cls(_script_json(figure), _script_json(packed), fig.layout.width, fig.layout.height, types)


def figure_html(fig: go.Figure | PackedFigure, div_id: str, config: dict) -> str:
    """A ``<div>`` and the script that unpacks and draws ``fig`` into it (needs :data:`UNPACK_JS` and plotly.js)."""
    done = fig if isinstance(fig, PackedFigure) else PackedFigure.of(fig)
    width, height = done.width, done.height
    style = f"height:{f'{height}px' if height else '100%'}; width:{f'{width}px' if width else '100%'};"
    return (
        f'<div id="{div_id}" class="plotly-graph-div" style="{style}"></div>'
        f'<script type="text/javascript">tkPlot("{div_id}", {done.figure_json}, {done.packed_json}, '
        f"{_script_json(config)});</script>"
    )


def standalone_html(fig: go.Figure, *, div_id: str = "figure") -> str:
    """One figure as a page of its own, written like the report's figures: hover details by index, coordinates
    typed, shapes packed, and the smallest plotly.js bundle that draws it inlined (the page works offline).

    ``fig.to_html`` would repeat every hover string and write every coordinate as text: a 10,000-patient swimmer
    was 131 MiB that way against a few MiB packed.
    """
    import html

    _, plotly_js = plotly_bundle([fig])
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else "Figure"
    config = {"displaylogo": False, "responsive": True}
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(re.sub('<[^>]+>', ' ', title))}</title>\n"
        f'<script type="text/javascript">{plotly_js}</script>\n'
        f'<script type="text/javascript">{UNPACK_JS}</script>\n</head>\n<body>\n'
        f"{figure_html(fig, div_id, config)}\n</body>\n</html>\n"
    )
