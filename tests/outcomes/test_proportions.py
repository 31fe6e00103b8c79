"""Tests for tkitrack.outcomes.proportions: exact Clopper-Pearson intervals against published and hand values."""

from __future__ import annotations

import pytest

from tkitrack.outcomes.proportions import Proportion, compute_proportion
from tkitrack.schemas.errors import InputError


@pytest.mark.parametrize(
    ("k", "n", "text"),
    [
        # COG ADVL0912 (Mosse et al., J Clin Oncol 2017): crizotinib in IMT, 12/14 responses, 86% (57-98%)
        pytest.param(12, 14, "12/14 (86%, 95% CI 57-98%)", id="advl0912-imt-response"),
        # ADVL0912 IMT complete responses 5/14; R binom.test(5, 14)$conf.int = 0.1276 0.6486
        pytest.param(5, 14, "5/14 (36%, 95% CI 13-65%)", id="advl0912-imt-cr"),
    ],
)
def test_published_text(k, n, text):
    assert compute_proportion(k, n).text == text


@pytest.mark.parametrize(
    ("k", "n", "lower", "upper"),
    [
        # R: binom.test(12, 14)$conf.int -> 0.5719 0.9822 (tolerance 1e-4)
        pytest.param(12, 14, 0.5719, 0.9822, id="r-12-of-14"),
        # R: binom.test(5, 14)$conf.int -> 0.1276 0.6486
        pytest.param(5, 14, 0.1276, 0.6486, id="r-5-of-14"),
        # by hand, k = 0: upper solves (1 - p)^n = 0.025 -> 1 - 0.025^(1/10) = 0.30850
        pytest.param(0, 10, 0.0, 0.30850, id="hand-zero-of-10"),
        # by hand, k = n: lower solves p^n = 0.025 -> 0.025^(1/10) = 0.69150
        pytest.param(10, 10, 0.69150, 1.0, id="hand-all-of-10"),
        # by hand, k = 1: lower solves 1 - (1 - p)^14 = 0.025 -> 1 - 0.975^(1/14) = 0.0018068
        pytest.param(1, 14, 0.0018068, 0.3387, id="hand-one-of-14"),
    ],
)
def test_bounds(k, n, lower, upper):
    p = compute_proportion(k, n)
    assert p.lower == pytest.approx(lower, abs=1e-4)
    assert p.upper == pytest.approx(upper, abs=1e-4)
    assert p.estimate == pytest.approx(k / n)
    assert p.method == "Clopper-Pearson"


@pytest.mark.parametrize("k", [pytest.param(k, id=f"k{k}") for k in range(15)])
def test_interval_symmetry_and_order(k):
    # exact intervals mirror: lower(k, n) = 1 - upper(n - k, n)
    p, q = compute_proportion(k, 14), compute_proportion(14 - k, 14)
    assert p.lower == pytest.approx(1 - q.upper, abs=1e-12)
    assert p.lower <= p.estimate <= p.upper


def test_other_conf_level_and_text():
    p = compute_proportion(0, 10, conf=0.90)
    assert p.upper == pytest.approx(1 - 0.05 ** (1 / 10), abs=1e-9)  # by hand
    assert p.text == "0/10 (0%, 90% CI 0-26%)"


def test_zero_patients():
    p = compute_proportion(0, 0)
    assert isinstance(p, Proportion)
    assert p.text == "0/0 (no patients)"
    assert p.labelled == "0/0 (no patients)"


def test_labelled_text_names_the_exact_interval():
    # COG ADVL0912: 12/14 responses -> 86%, 57-98% (R: binom.test(12, 14)$conf.int = 0.5718708 0.9822166)
    assert compute_proportion(12, 14).labelled == "12/14 (86%, exact Clopper-Pearson 95% CI 57-98%)"
    assert compute_proportion(0, 10, conf=0.90).labelled == "0/10 (0%, exact Clopper-Pearson 90% CI 0-26%)"


@pytest.mark.parametrize(
    ("k", "n", "conf", "match"),
    [
        pytest.param(15, 14, 0.95, "0 <= k <= n", id="k-above-n"),
        pytest.param(-1, 14, 0.95, "0 <= k <= n", id="negative"),
        pytest.param(1.5, 14, 0.95, "whole numbers", id="fraction"),
        pytest.param("a", 14, 0.95, "whole numbers", id="text"),
        pytest.param(1, 14, 95, "conf", id="conf-percent"),
    ],
)
def test_bad_input(k, n, conf, match):
    with pytest.raises(InputError, match=match):
        compute_proportion(k, n, conf)
