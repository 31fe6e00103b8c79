"""Tests for tkitrack.dashboards.web.render: autoescaping and cell text."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tkitrack.dashboards.web.render import make_templates, table_rows


def test_templates_escape_every_value():
    env = make_templates().env
    out = env.from_string("<p title='{{ v }}'>{{ v }}</p>").render(v="<b onmouseover='x'>&")
    assert out == "<p title='&lt;b onmouseover=&#39;x&#39;&gt;&amp;'>&lt;b onmouseover=&#39;x&#39;&gt;&amp;</p>"


@pytest.mark.parametrize(
    ("value", "text"),
    [pytest.param(None, "", id="none"), pytest.param(np.nan, "", id="nan"), pytest.param(pd.NA, "", id="na"),
     pytest.param(True, "true", id="bool"), pytest.param(np.bool_(False), "false", id="numpy-bool"),
     pytest.param(200.0, "200", id="whole-float"), pytest.param(0.25, "0.25", id="float"),
     pytest.param(dt.date(2019, 7, 1), "2019-07-01", id="date"), pytest.param("<i>", "<i>", id="text-unescaped-here")],
)  # fmt: skip
def test_cell_text(value, text):
    frame = pd.DataFrame({"c": pd.Series([value], dtype=object)})
    assert table_rows(frame) == (["c"], [[text]])
