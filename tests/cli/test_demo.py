"""`tkitrack demo`: a fresh install builds, validates, summarises and reports, and can run twice."""

from __future__ import annotations

import re


def test_demo_runs_twice_and_reports(run_cli, tmp_path):
    folder = tmp_path / "demo"
    first = run_cli("sqlite:///unused.db", "demo", "-o", str(folder), "--patients", "30", "--seed", "3")
    assert first.exit_code == 0, first.output
    text = first.stdout
    assert "37 patients: 7 published cases and 30 synthetic" in text
    assert "validation: 0 error(s)" in text
    orr = re.search(
        r"confirmed objective response \(CR or PR\), all treated patients \((\d+) of them synthetic\): "
        r"(\d+)/(\d+) \((\d+)%, exact Clopper-Pearson 95% CI (\d+)-(\d+)%\); unconfirmed "
        r"\d+/\d+ \(\d+%, exact Clopper-Pearson 95% CI \d+-\d+%\); confirmed complete response \d+/",
        text,
    )
    synthetic, k, n, pct, lo, hi = map(int, orr.groups())
    assert 0 < k <= n and int(lo) <= pct <= int(hi) and synthetic == n - 1  # the letter's case is the published one
    assert "median progression-free survival from the first dose of the index therapy, days:" in text
    for line in text.splitlines():  # the synthetic count never exceeds the patients it is part of
        found = re.search(r"in (\d+) patients \((\d+) of them synthetic\)", line)
        if found:
            assert int(found.group(2)) <= int(found.group(1)), line

    assert (folder / "report.html").stat().st_size > 1_000_000
    assert {p.name for p in (folder / "adam").iterdir()} == {"adsl.csv", "adrs.csv", "adtte.csv"}
    second = run_cli("sqlite:///unused.db", "demo", "--dir", str(folder), "--patients", "30", "--seed", "3")  # retired
    assert second.exit_code == 0, second.output
    assert "warning: --dir DIR is deprecated and will be removed in the next release; use -o DIR" in second.stderr
    assert second.stdout.splitlines()[:3] == text.splitlines()[:3]  # rebuilt, not appended to
