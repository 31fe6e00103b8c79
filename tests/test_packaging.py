"""Tests for pyproject.toml's packaging: the wheel holds the one package `tkitrack` and its data, nothing else."""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Working-tree clutter that must not reach the build (and that building in place would leave behind).
_IGNORE = shutil.ignore_patterns(".git", ".venv", ".venv-lowest", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
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


@pytest.mark.slow
def test_wheel_carries_every_file_of_every_package_folder(wheel):
    """Every file under each package's folder (package-dir), data included, is in the wheel at its package path."""
    setuptools_cfg = _pyproject()["tool"]["setuptools"]
    names = set(wheel.namelist())
    missing = []
    for package in setuptools_cfg["packages"]:
        folder = ROOT / setuptools_cfg["package-dir"][package]
        inner = [ROOT / d for p, d in setuptools_cfg["package-dir"].items() if p.startswith(package + ".")]
        for path in folder.rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts or any(path.is_relative_to(d) for d in inner):
                continue
            target = "/".join([*package.split("."), *path.relative_to(folder).parts])
            if target not in names:
                missing.append(target)
    assert not missing, f"files of the package folders missing from the wheel: {missing}"


def test_every_package_data_pattern_matches_files():
    """A package-data glob that matches nothing is stale (or a typo that silently leaves data out of the wheel)."""
    setuptools_cfg = _pyproject()["tool"]["setuptools"]
    empty = [
        f"{package}: {pattern}"
        for package, patterns in setuptools_cfg["package-data"].items()
        for pattern in patterns
        if not any(p.is_file() for p in (ROOT / setuptools_cfg["package-dir"][package]).glob(pattern))
    ]
    assert not empty


# --- lower bounds: scripts/lowest_constraints.py (the constraints scripts/lowest-deps installs) --------------------


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@functools.cache
def _generator():
    """scripts/lowest_constraints.py as a module (scripts/ is not a package), loaded once."""
    spec = importlib.util.spec_from_file_location("lowest_constraints", ROOT / "scripts" / "lowest_constraints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, str]:
    """Every requirement in pyproject.toml as {canonical name: lower bound}, split by hand (not by the generator)."""
    project = _pyproject()["project"]
    strings = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        strings += extra
    declared = {}
    for string in strings:
        name, rest = string.split(">=")
        declared[_canonical(name.split("[")[0].strip())] = rest.split(",")[0].strip()
    assert len(declared) == len(strings), "a dependency is listed twice"
    return declared


def test_constraints_pin_every_runtime_and_test_dependency_to_its_lower_bound():
    lines = _generator().constraints(ROOT / "pyproject.toml").splitlines()
    pins = dict(line.split("==") for line in lines if not line.startswith("#"))
    assert pins == _declared()
    assert {"sqlmodel", "psycopg", "pytest", "ruff"} <= pins.keys()  # runtime, an extra's owner, test extras


def test_constraints_script_prints_the_pins(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "lowest_constraints.py"), str(ROOT / "pyproject.toml")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == _generator().constraints(ROOT / "pyproject.toml")


def _write_pyproject(tmp_path: Path, dependencies: list[str], test: list[str] | None = None) -> Path:
    path = tmp_path / "pyproject.toml"
    extras = "" if test is None else f"\n[project.optional-dependencies]\ntest = {test!r}\n"
    path.write_text(f'[project]\nname = "x"\ndependencies = {dependencies!r}\n{extras}', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("dependencies", "test", "expected"),
    [
        pytest.param(["pandas>=2.2"], None, {"pandas": "2.2"}, id="plain"),
        pytest.param(["psycopg[binary]>=3.1.4"], None, {"psycopg": "3.1.4"}, id="extras-dropped"),
        pytest.param(
            ["Jinja2>=3.1.6", "python_docx >= 1.1"],
            None,
            {"jinja2": "3.1.6", "python-docx": "1.1"},
            id="names-normalised",
        ),
        pytest.param(["numpy>=1.26,<3"], None, {"numpy": "1.26"}, id="upper-bound-kept-out"),
        pytest.param(["rich>=13.8"], ["pytest>=8"], {"rich": "13.8", "pytest": "8"}, id="test-extra-read"),
    ],
)
def test_constraints_from_a_pyproject(tmp_path, dependencies, test, expected):
    path = _write_pyproject(tmp_path, dependencies, test)
    assert _generator().lower_bounds(path) == expected


@pytest.mark.parametrize(
    ("dependencies", "test", "named"),
    [
        pytest.param(["pandas>=2.2", "newlib"], None, "newlib", id="no-bound"),
        pytest.param(["newlib<2"], None, "newlib<2", id="upper-only"),
        pytest.param(["newlib==1.0"], None, "newlib==1.0", id="exact-pin"),
        pytest.param(["newlib~=1.0"], None, "newlib~=1.0", id="compatible-release"),
        pytest.param(["newlib>1.0"], None, "newlib>1.0", id="strictly-greater"),
        pytest.param(["newlib>=1.0; python_version<'3.12'"], None, "newlib>=1.0; python_version", id="marker"),
        pytest.param(["pandas>=2.2"], ["newtool"], "extra:test: 'newtool'", id="test-extra-no-bound"),
        pytest.param(["pandas>=2.2"], ["Pandas>=2.3"], "second lower bound (2.2", id="two-bounds"),
    ],
)
def test_a_dependency_without_a_pinnable_lower_bound_stops_the_generator(tmp_path, dependencies, test, named):
    path = _write_pyproject(tmp_path, dependencies, test)
    with pytest.raises(_generator().LowerBoundError, match=re.escape(named)):
        _generator().constraints(path)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "lowest_constraints.py"), str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert named in done.stderr
    assert "Traceback" not in done.stderr


def test_docs_dependencies_gives_every_dependency_with_its_lower_bound():
    """docs/dependencies.md has one table row per dependency: `name` | ... | `>=bound` | ..., as in pyproject.toml."""
    rows = re.findall(r"^\| `([A-Za-z0-9._\[\]-]+)` \|.*?\| `>=([0-9][^`]*)` \|", (ROOT / "docs" / "dependencies.md")
                      .read_text(encoding="utf-8"), flags=re.MULTILINE)  # fmt: skip
    documented = {_canonical(name.split("[")[0]): bound for name, bound in rows}
    assert len(documented) == len(rows), "a dependency has two rows"
    assert documented == _declared()
