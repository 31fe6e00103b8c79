"""Figures for an HTML report, kept small: hover details as indices into tables of distinct strings, plotly.js basic.

A 10,000-patient swimmer carries a hover text for each of ~180,000 points, most of it repeated (the patient id,
the drug, the day, the AE term): as JSON strings that is 20 MB. :func:`pack_figure` splits every long string array
of a trace (``hovertext``, ``text``, ``customdata``) at ``<br>`` into parts and keeps, for each part, its distinct
values once and an integer array (typed, base64) of indices into them; the page's script
(:data:`UNPACK_JS`) rebuilds the arrays before plotly draws, so the hover labels are the ones the figure was made
with. Whole-number coordinates go as int16/int32, others as float32 where that is exact or the trace is long. The plotly.js bundle is the smallest of plotly's
distributions that draws every trace type in the report (:func:`plotly_bundle`): ``basic`` (scatter, bar, pie),
shipped in ``dashboards/assets`` with its licence, else the full bundle of the installed plotly package.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder

__all__ = ["BASIC_TRACE_TYPES", "UNPACK_JS", "figure_html", "pack_figure", "plotly_bundle", "unpack_strings"]

#: Trace types plotly.js's ``basic`` partial bundle draws (plotly.js-basic-dist-min, same version as plotly.py's).
BASIC_TRACE_TYPES: frozenset[str] = frozenset({"scatter", "bar", "pie"})
#: String arrays shorter than this stay as they are.
MIN_PACKED = 64
_PACKED_KEYS = ("hovertext", "text", "customdata")
_SEP = "<br>"

#: Rebuilds packed string arrays, then draws: ``tkPlot(div id, figure, packed, config)``; ``packed`` is
#: ``{"tables": [distinct values of part 0, of part 1, ...], "traces": {trace: {key: [[base64, dtype], ...]}}}``.
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
function tkPlot(id, fig, packed, config) {
  Object.keys(packed.traces || {}).forEach(function (t) {
    Object.keys(packed.traces[t]).forEach(function (k) {
      fig.data[+t][k] = tkUnpack(packed.tables, packed.traces[t][k]);
    });
  });
  Plotly.newPlot(id, fig.data, fig.layout, config);
}
"""


def plotly_bundle(figures: list[go.Figure]) -> tuple[str, str]:
    """(name, source) of the smallest plotly.js bundle that draws every trace of ``figures``."""
    types = {t.type or "scatter" for f in figures for t in f.data}
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


def _string_parts(values: Any) -> list[pd.Series] | None:
    """The ``<br>`` parts of a string array, one Series per position (None past a string's end), or None."""
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1 or len(arr) < MIN_PACKED:
        return None
    present = pd.notna(arr)
    if not all(isinstance(v, str) for v in arr[present]):
        return None
    split = pd.Series(arr).where(present, None).str.split(_SEP, regex=False)
    width = int(split.map(len, na_action="ignore").max()) if present.any() else 1
    return [split.str.get(j) for j in range(width)]


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


_DTYPES = {"i1": "<i1", "u1": "<u1", "i2": "<i2", "u2": "<u2", "i4": "<i4", "u4": "<u4", "f4": "<f4", "f8": "<f8"}


def _decode(value: Any) -> np.ndarray | None:
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
        props[key] = {
            "dtype": dtype,
            "bdata": base64.b64encode(filled.astype(_DTYPES[dtype]).tobytes()).decode("ascii"),
        }
        return


def _typed_len(value: dict) -> int:
    return len(base64.b64decode(value["bdata"])) // int(value["dtype"][1:]) if "bdata" in value else 0


def _float32(value: Any, *, exact: bool) -> Any:
    """A float64 typed array (plotly's ``{"dtype": "f8", "bdata": ...}``) as float32: always, or when exact."""
    if not (isinstance(value, dict) and value.get("dtype") == "f8" and "shape" not in value):
        return value
    arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype="<f8")
    small = arr.astype("<f4")
    if arr.size < MIN_PACKED or (exact and not np.array_equal(small.astype("<f8"), arr, equal_nan=True)):
        return value
    return {"dtype": "f4", "bdata": base64.b64encode(small.tobytes()).decode("ascii")}


def _reads_customdata(props: dict) -> bool:
    return any("customdata" in str(props.get(k) or "") for k in ("hovertemplate", "texttemplate"))


def pack_figure(fig: go.Figure, *, lossy_points: int = 2_000) -> tuple[dict, dict]:
    """(figure as a plotly JSON dict with long string arrays taken out, the packed arrays).

    Custom data that no template of the trace reads is left out (a static page has no click handlers). In traces
    of ``lossy_points`` points or more, coordinates go as float32 (7 significant digits, beyond what the axes and
    hover labels show); elsewhere only when float32 holds them exactly.
    """
    figure = fig.to_dict()  # numeric arrays already typed (base64) by plotly
    found: list[tuple[str, str, list[pd.Series]]] = []
    for i, props in enumerate(figure["data"]):
        if "customdata" in props and not _reads_customdata(props):
            del props["customdata"]
        for key in _PACKED_KEYS:
            value = props.get(key)
            if value is not None and not isinstance(value, (str, dict)):
                parts = _string_parts(value)
                if parts is not None:
                    found.append((str(i), key, parts))
                    del props[key]
        _integral_axis(props)
        big = any(isinstance(props.get(k), dict) and _typed_len(props[k]) >= lossy_points for k in ("x", "y"))
        for key in ("x", "y"):
            if key in props:
                props[key] = _float32(props[key], exact=not big)
    width = max((len(p) for _, _, p in found), default=0)
    tables, codes_by_part = [], []
    for j in range(width):
        column = pd.concat([p[j] if j < len(p) else pd.Series([None] * len(p[0])) for _, _, p in found],
                           ignore_index=True)  # fmt: skip
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        tables.append([None, *uniques.tolist()])  # code 0: no such part
        codes_by_part.append(codes + 1)
    packed: dict[str, Any] = {"tables": tables, "traces": {}}
    offset = 0
    for trace, key, parts in found:
        n = len(parts[0])
        packed["traces"].setdefault(trace, {})[key] = [
            _index_array(c[offset : offset + n]) for c in codes_by_part[: len(parts)]
        ]
        offset += n
    return figure, packed


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>`` or ``<!--`` can close or confuse it)."""
    text = json.dumps(value, cls=PlotlyJSONEncoder, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def figure_html(fig: go.Figure, div_id: str, config: dict) -> str:
    """A ``<div>`` and the script that unpacks and draws ``fig`` into it (needs :data:`UNPACK_JS` and plotly.js)."""
    figure, packed = pack_figure(fig)
    width, height = fig.layout.width, fig.layout.height
    style = f"height:{f'{height}px' if height else '100%'}; width:{f'{width}px' if width else '100%'};"
    return (
        f'<div id="{div_id}" class="plotly-graph-div" style="{style}"></div>'
        f'<script type="text/javascript">tkPlot("{div_id}", {_script_json(figure)}, {_script_json(packed)}, '
        f"{_script_json(config)});</script>"
    )
