"""Tests for pyproject.toml's packaging: the wheel holds the one package `tkitrack` and its data, nothing else."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Working-tree clutter that must not reach the build (and that building in place would leave behind).
_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                 ".ruff_cache", "tests", "bench", "*.db", "tkitrack-demo")  # fmt: skip


def _can_build_without_isolation() -> bool:
    """setuptools >= 68 and wheel importable: build with them, offline; otherwise pip fetches them."""
    if importlib.util.find_spec("wheel") is None or importlib.util.find_spec("setuptools") is None:
        return False
    import setuptools

    return int(setuptools.__version__.split(".")[0]) >= 68


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from a copy of the source tree (the repository itself is left untouched)."""
    pytest.importorskip("build", reason="the test extra `build` is needed: pip install -e '.[test]'")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE)
    cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(src)]
    if _can_build_without_isolation():
        cmd.insert(4, "--no-isolation")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [path] = (tmp / "dist").glob("tkitrack-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


@pytest.mark.slow
def test_wheel_top_level_is_only_tkitrack_and_its_dist_info(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    dist_info = [t for t in tops if t.endswith(".dist-info")]
    assert len(dist_info) == 1
    assert dist_info[0].startswith("tkitrack-")
    assert tops == {"tkitrack", dist_info[0]}


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        pytest.param("tkitrack/schemas/vocab/ctcae_v5.csv", id="ctcae"),
        pytest.param("tkitrack/schemas/vocab/drugs.csv", id="drugs"),
        pytest.param("tkitrack/schemas/migrations/versions/0001_initial.py", id="migration"),
        pytest.param("tkitrack/schemas/migrations/env.py", id="alembic-env"),
        pytest.param("tkitrack/schemas/migrations/script.py.mako", id="alembic-template"),
        pytest.param("tkitrack/cli/__init__.py", id="cli"),
        pytest.param("tkitrack/cli/_fields.py", id="cli-fields"),
        pytest.param("tkitrack/outcomes/", id="outcomes"),
        pytest.param("tkitrack/dashboards/", id="dashboards"),
        pytest.param("tkitrack/sample_data/", id="sample-data"),
        pytest.param("tkitrack/sample_data/published/patient.csv", id="published-cases"),
        pytest.param("tkitrack/schemas/migrations/versions/0004_web_accounts.py", id="migration-web"),
        pytest.param("tkitrack/schemas/migrations/versions/0005_cdisc.py", id="migration-cdisc"),
        pytest.param("tkitrack/schemas/cdisc/variables.csv", id="cdisc-variables"),
        pytest.param("tkitrack/schemas/cdisc/dataset.schema.json", id="dataset-json-schema"),
        pytest.param("tkitrack/schemas/vocab/countries.csv", id="countries"),
        pytest.param("tkitrack/dashboards/web/app.py", id="web-app"),
        pytest.param("tkitrack/dashboards/web/templates/base.html", id="web-templates"),
        pytest.param("tkitrack/dashboards/web/static/htmx.min.js", id="web-htmx"),
        pytest.param("tkitrack/dashboards/web/static/app.js", id="web-script"),
        pytest.param("tkitrack/dashboards/web/static/app.css", id="web-css"),
        pytest.param("tkitrack/dashboards/web/static/favicon.svg", id="web-icon"),
        pytest.param("tkitrack/dashboards/web/static/THIRD-PARTY.md", id="web-licences"),
    ],
)
def test_wheel_contains(wheel, path):
    names = wheel.namelist()
    if path.endswith("/"):
        assert any(n.startswith(path) and n.endswith(".py") for n in names), path
    else:
        assert path in names


@pytest.mark.slow
def test_wheel_declares_the_console_script_and_no_bare_packages(wheel):
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[console_scripts]" in text
    assert "tkitrack = tkitrack.cli:main" in text
    assert not any(n.startswith(("cli/", "schemas/", "outcomes/", "tests/")) for n in wheel.namelist())
    assert "tkitrack/__init__.py" not in wheel.namelist()  # tkitrack is a namespace
