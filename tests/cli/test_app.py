"""Tests for tkitrack.cli (the composed app): help of every command, version, light start-up, generated fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
import typer.main
from typer.testing import CliRunner

from tkitrack.cli import app
from tkitrack.cli._fields import FIELDS
from tkitrack.cli.gen_fields import render_fields
from tkitrack.cli.records import GROUPS
from tkitrack.schemas.frames import input_columns


def _command_paths(command, path=()) -> list[tuple[str, ...]]:
    out = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        out += _command_paths(sub, (*path, name))
    return out


COMMANDS = _command_paths(typer.main.get_command(app))
RECORD_VERBS = ("add", "edit", "delete", "list")


@pytest.mark.parametrize("path", [pytest.param(p, id=" ".join(p) or "tkitrack") for p in COMMANDS])
def test_help_of_every_group_and_command(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "Traceback" not in result.output


def test_every_record_group_has_add_edit_delete_list():
    for group in GROUPS:
        for verb in RECORD_VERBS:
            assert (group, verb) in COMMANDS, (group, verb)
    for verb in ("change", "stop", "interrupt", "resume"):
        assert ("exposure", verb) in COMMANDS
    assert {("init",), ("db", "status"), ("db", "upgrade"), ("audit", "verify"), ("audit", "log")} <= set(COMMANDS)


def test_record_add_options_come_from_the_models():
    result = CliRunner().invoke(app, ["ae", "add", "--help"], env={"COLUMNS": "200"})
    for name, _, _ in FIELDS["ae"]:
        if name != "patient_id":
            assert "--" + name.replace("_", "-") in result.output, name
    result = CliRunner().invoke(app, ["exposure", "add", "--help"], env={"COLUMNS": "200"})
    assert "--end-reason" in result.output  # the field `reason`; --reason is the audit reason of edit/delete


def test_no_arguments_shows_help():
    result = CliRunner().invoke(app, [])
    assert "Usage:" in result.output
    assert "patient" in result.output


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"tkitrack {version('tkitrack')}\n"
    assert result.output.startswith("tkitrack 0.")


def test_importing_the_cli_does_not_import_heavy_libraries():
    code = (
        "import json, sys; import tkitrack.cli; "
        "print(json.dumps(sorted(m for m in ('pandas', 'sqlmodel', 'sqlalchemy', 'pandera', 'lifelines', 'plotly', "
        "'numpy', 'alembic') if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == []


def test_fields_module_is_not_stale():
    """cli/_fields.py must equal what cli/gen_fields.py renders now (rerun `python -m tkitrack.cli.gen_fields`)."""
    from importlib import resources

    shipped = resources.files("tkitrack.cli").joinpath("_fields.py").read_text(encoding="utf-8")
    assert shipped == render_fields()


def test_fields_are_the_template_columns():
    for record, fields in FIELDS.items():
        assert [name for name, _, _ in fields] == input_columns(record)
    assert ("grade", "CTCAE grade (1-5; must exist for the term)", True) in FIELDS["ae"]


def test_unknown_command_and_option_are_usage_errors():
    result = CliRunner().invoke(app, ["scan", "add"])
    assert result.exit_code == 2
    assert "No such command 'scan'" in result.output
    result = CliRunner().invoke(app, ["ae", "add", "P1", "--colour", "red"])
    assert result.exit_code == 2
    assert "No such option: --colour" in result.output
    assert "Traceback" not in result.output


def test_console_script_bad_option_and_bad_value_in_a_real_subprocess(sqlite_url, tkitrack_exe):
    exe = tkitrack_exe
    env = {**os.environ, "TKITRACK_USER": "tester", "COLUMNS": "200"}
    env.pop("TKITRACK_DEBUG", None)
    bad_option = subprocess.run([exe, "--db", sqlite_url, "ae", "list", "--colour", "red"], capture_output=True,
                                text=True, env=env, timeout=60)  # fmt: skip
    assert bad_option.returncode == 2
    assert "No such option: --colour" in bad_option.stderr
    assert "Traceback" not in bad_option.stderr + bad_option.stdout
    bad_value = subprocess.run([exe, "--db", sqlite_url, "patient", "add", "P1", "--sex", "female"],
                               capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert bad_value.returncode == 1
    assert "FLD002" in bad_value.stderr
    assert "'female' is not an allowed sex" in bad_value.stderr
    assert "error: 1 error(s) in tkitrack patient add; nothing was written" in bad_value.stderr
    assert bad_value.stdout == ""
    assert "Traceback" not in bad_value.stderr


@pytest.mark.parametrize(("given", "backend"), [(None, "system"), ("mimalloc", "mimalloc")])
def test_the_cli_runs_arrow_on_the_system_allocator_unless_told_otherwise(given, backend):
    """``main`` sets Arrow's documented pool setting before pyarrow loads; a value the user gives is kept."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if given is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = given
    code = ("import tkitrack.cli as cli\n"
            "def app():\n"
            "    import pyarrow\n"
            "    print(pyarrow.default_memory_pool().backend_name)\n"
            "cli.app = app\n"
            "cli.main()\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == backend
