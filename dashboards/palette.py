"""Colour-blind-safe colours (Okabe-Ito, Paul Tol) and marker symbols shared by every tkitrack figure.

Every category that a figure colours also gets a second cue (a marker symbol, a line width or a fill
pattern), so that no reading depends on telling two hues apart.
"""

from __future__ import annotations

__all__ = [
    "AE_GRADE_COLOURS",
    "AE_GRADE_PATTERNS",
    "AE_GRADE_SIZES",
    "ARROW_STYLES",
    "DOSE_LEVEL_DASHES",
    "DOSE_LEVEL_LOOKS",
    "DOSE_LEVEL_WIDTHS",
    "DRUG_COLOURS",
    "EVENT_STYLES",
    "OFF_TREATMENT_COLOUR",
    "OKABE_ITO",
    "RESPONSE_COLOURS",
    "SERIES_COLOURS",
    "TOL_LIGHT",
    "compute_colour_difference",
    "darken",
    "drug_colour",
    "series_colour",
]

#: Okabe & Ito (2008), the eight colours distinguishable under the common colour-vision deficiencies.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Paul Tol's "light" qualitative scheme: pale enough that dark markers stay visible on top of a lane.
TOL_LIGHT: tuple[str, ...] = (
    "#77AADD",  # light blue
    "#EE8866",  # orange
    "#44BB99",  # mint
    "#EEDD88",  # light yellow
    "#FFAABB",  # pink
    "#99DDFF",  # light cyan
    "#BBCC33",  # pear
    "#AAAA00",  # olive
)

#: Drug colours for swimmer lanes (Tol light); drugs not listed get the next free colour by name order.
DRUG_COLOURS: dict[str, str] = {
    "crizotinib": TOL_LIGHT[0],
    "alectinib": TOL_LIGHT[1],
    "ceritinib": TOL_LIGHT[2],
    "lorlatinib": TOL_LIGHT[3],
    "larotrectinib": TOL_LIGHT[4],
    "entrectinib": TOL_LIGHT[5],
    "brigatinib": TOL_LIGHT[6],
    "repotrectinib": TOL_LIGHT[7],
}

#: Lane colour for time off treatment (Tol's neutral grey).
OFF_TREATMENT_COLOUR = "#BBBBBB"

#: Line width of a dose level relative to the lane's full width: the width, not only the shade, tells them apart.
DOSE_LEVEL_WIDTHS: dict[str, float] = {"starting": 1.0, "escalated": 1.0, "reduced": 0.55, "changed": 0.75}

#: Line pattern of a dose level, drawn in the lane and in its legend sample (a reader sees it in the legend).
DOSE_LEVEL_DASHES: dict[str, str] = {"starting": "solid", "escalated": "solid", "reduced": "dot", "changed": "dash"}

#: How each dose level looks, said in its legend entry.
DOSE_LEVEL_LOOKS: dict[str, str] = {
    "starting": "solid",
    "escalated": "solid, darker",
    "reduced": "dotted, narrower",
    "changed": "dashed",
}

#: Curves, series and best-response groups: Okabe-Ito without yellow (too light on white) and black last.
SERIES_COLOURS: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["orange"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
)

#: Overall response colours (waterfall bars, spider lines); the response is also written in hover and legend.
RESPONSE_COLOURS: dict[str, str] = {
    "CR": OKABE_ITO["blue"],
    "PR": OKABE_ITO["sky_blue"],
    "SD": "#999999",
    "NON-CR/NON-PD": "#CCCCCC",
    "PD": OKABE_ITO["vermillion"],
    "NE": "#FFFFFF",
    "MISSING": "#FFFFFF",
}

#: Marker style per swimmer event kind: symbol, fill colour, size (px at a comfortable lane height).
EVENT_STYLES: dict[str, dict[str, object]] = {
    "CR": {"symbol": "star", "color": OKABE_ITO["blue"], "size": 13, "name": "Complete response (first)"},
    "PR": {"symbol": "diamond", "color": OKABE_ITO["sky_blue"], "size": 10, "name": "Partial response (first)"},
    "PD": {"symbol": "x", "color": OKABE_ITO["vermillion"], "size": 10, "name": "Progression (first)"},
    "recurrence": {
        "symbol": "triangle-down",
        "color": OKABE_ITO["orange"],
        "size": 11,
        "name": "Recurrence",
    },
    "metastasis": {
        "symbol": "hexagram",
        "color": OKABE_ITO["reddish_purple"],
        "size": 11,
        "name": "Metastasis",
    },
    "surgery": {"symbol": "square", "color": OKABE_ITO["bluish_green"], "size": 9, "name": "Surgery"},
    "death": {"symbol": "x-thin", "color": OKABE_ITO["black"], "size": 11, "name": "Death"},
    "AE": {"symbol": "circle", "color": "#DDAA33", "size": 7, "name": "Adverse event"},
}

#: CTCAE grade colours, in order of severity and each clearly apart from the next (CIE76 distance over 30):
#: Okabe-Ito yellow, orange and vermillion, Paul Tol's wine, and black. Marker size and bar pattern add a cue.
AE_GRADE_COLOURS: dict[int, str] = {
    1: OKABE_ITO["yellow"],
    2: OKABE_ITO["orange"],
    3: OKABE_ITO["vermillion"],
    4: "#882255",
    5: OKABE_ITO["black"],
}

#: Marker size grows with grade, a second cue beside the colour.
AE_GRADE_SIZES: dict[int, int] = {1: 6, 2: 7, 3: 9, 4: 10, 5: 11}

#: Fill pattern per grade for stacked bars (plotly ``marker.pattern.shape``), a second cue beside colour.
AE_GRADE_PATTERNS: dict[int, str] = {1: "", 2: ".", 3: "/", 4: "x", 5: ""}

#: End-of-lane arrows: what is ongoing at the last contact.
ARROW_STYLES: dict[str, dict[str, object]] = {
    "treatment": {"symbol": "arrow-right", "color": OKABE_ITO["black"], "size": 11, "name": "Treatment ongoing"},
    "response": {
        "symbol": "arrow-bar-right",
        "color": OKABE_ITO["blue"],
        "size": 11,
        "name": "Response ongoing",
    },
    "followup": {
        "symbol": "triangle-right-open",
        "color": "#777777",
        "size": 8,
        "name": "Alive, in follow-up",
    },
}


def series_colour(index: int) -> str:
    """Colour of the ``index``-th curve or series, cycling through :data:`SERIES_COLOURS`."""
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def drug_colour(drug: str, known: list[str] | None = None) -> str:
    """Lane colour of a drug: its :data:`DRUG_COLOURS` entry, else a Tol light colour by position in ``known``.

    >>> drug_colour("crizotinib")
    '#77AADD'
    """
    key = str(drug).lower()
    if key in DRUG_COLOURS:
        return DRUG_COLOURS[key]
    others = sorted(d for d in (known or [key]) if str(d).lower() not in DRUG_COLOURS)
    position = others.index(drug) if drug in others else len(others)
    return TOL_LIGHT[(position + len(DRUG_COLOURS)) % len(TOL_LIGHT)]


def compute_colour_difference(first: str, second: str) -> float:
    """CIE76 colour difference (Delta E*ab, D65 white) between two ``#RRGGBB`` colours; about 2.3 is "just
    noticeable", above 20 two marks are told apart at a glance.

    >>> round(compute_colour_difference("#000000", "#FFFFFF"))
    100
    """

    def lab(colour: str) -> tuple[float, float, float]:
        value = colour.lstrip("#")
        rgb = [int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
        y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

        def f(t: float) -> float:
            return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

        return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))

    a, b = lab(first), lab(second)
    return float(sum((p - q) ** 2 for p, q in zip(a, b, strict=True)) ** 0.5)


def darken(colour: str, factor: float = 0.7) -> str:
    """Scale a ``#RRGGBB`` colour towards black (factor 1 keeps it, 0 gives black).

    >>> darken("#FFFFFF", 0.5)
    '#7F7F7F'
    """
    value = colour.lstrip("#")
    channels = [int(value[i : i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{max(0, min(255, int(c * factor))):02X}" for c in channels)
