"""One convention across every command, checked by walking the whole click command tree (so options that are added
later are held to it too): ``-h``, exit codes in every ``--help``, ``--format`` a validated choice listed in the
help, ``-o/--output`` for every output path, ``--by`` for grouping, the patient always the argument PATIENT_ID,
shell completion, and the retired spellings that still work for one release with a warning on stderr."""

from __future__ import annotations

import enum
import os
import subprocess
import typing
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperArgument
from typer.testing import CliRunner

from tkitrack.cli import app
from tkitrack.cli._common import EXIT_CODES
from tkitrack.cli.tables import TableFormat
from tkitrack.dashboards.report import TABLE_FORMATS

ROOT = typer.main.get_command(app)


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


EVERY = list(_walk(ROOT))
COMMANDS = [(p, c) for p, c in EVERY if not hasattr(c, "commands")]
GROUPS = [(p, c) for p, c in EVERY if hasattr(c, "commands")]


def _ids(items):
    return [pytest.param(p, c, id=" ".join(p) or "tkitrack") for p, c in items]


def _visible(command):
    return [p for p in command.params if not getattr(p, "hidden", False) and p.name not in ("help",)]


def _hints(command) -> dict[str, object]:
    """The Python annotations of a command's parameters (the callback is wrapped; get_type_hints unwraps it)."""
    return typing.get_type_hints(command.callback) if command.callback else {}


def _choices(annotation) -> list[str] | None:
    """The values a Literal / Enum (optionally in a list or Optional) annotation allows; None for anything else."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in args]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(m.value) for m in annotation]
    if typing.get_origin(annotation) in (list, typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [c for a in args if (c := _choices(a)) is not None]
        return inner[0] if len(inner) == 1 and len(args) == 1 else None
    return None


def _help(path) -> str:
    result = CliRunner().invoke(app, [*path, "-h"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


#: Path parameters that are read, not written (every written path is -o/--output). A new Path parameter must be
#: added here (an input) or be -o/--output (an output): this is what keeps the convention for later options.
INPUT_PATHS = {
    ("import",): {"path"},
    ("validate",): {"path", "previous"},
    ("derive",): {"sdtm", "last_alive"},
    ("survival",): {"csv"},
    ("cuminc",): {"csv"},
    ("export",): {"secret_file"},
    ("serve",): {"ssl_certfile", "ssl_keyfile"},
    ("audit", "verify"): {"anchors"},  # the anchors file is read (checked), then appended to: a log, not an output
}
RETIRED = {"--out", "--dir", "--adam", "--group", "--group-by", "--patient", "-p", "--xlsx", "--folder", "--outdir",
           "--output-dir", "--out-dir"}  # fmt: skip


@pytest.mark.parametrize(("path", "command"), _ids(EVERY))
def test_dash_h_is_help_and_the_exit_codes_are_in_every_help(path, command):
    assert command.epilog == EXIT_CODES, f"{' '.join(path)}: give it the EXIT_CODES epilog (use cli._common)"
    text = " ".join(_help(path).split())
    assert "Usage:" in text
    assert "Exit codes: 0 done; 1 the data or the request failed a check" in text
    assert "2 usage error" in text and "3 the record is locked" in text and "4 internal error" in text


WITH_FORMAT = [(p, c) for p, c in COMMANDS if any("--format" in q.opts for q in c.params)]


@pytest.mark.parametrize(("path", "command"), _ids(WITH_FORMAT))
def test_format_is_a_choice_listed_in_help_and_refused_when_unknown(path, command):
    (param,) = [p for p in _visible(command) if "--format" in p.opts]
    assert param.opts == ["--format", "-f"], param.opts
    choices = _choices(_hints(command)[param.name])
    assert choices, f"{' '.join(path)} --format must be a Literal/Enum choice, is {_hints(command)[param.name]}"
    listed = _help(path)
    for choice in choices:
        assert choice in listed, (path, choice)
    banana = CliRunner().invoke(app, [*path, "--format", "banana"], env={"COLUMNS": "250"})
    assert banana.exit_code == 2, banana.output
    assert "Invalid value for '--format'" in banana.output
    assert "'banana' is not one of" in banana.output and repr(choices[0]) in banana.output
    assert "Traceback" not in banana.output


@pytest.mark.parametrize(("path", "command"), _ids(COMMANDS))
def test_option_names_output_grouping_and_patient(path, command):
    where = " ".join(path)
    hints = _hints(command)
    for param in _visible(command):
        opts = set(param.opts) | set(getattr(param, "secondary_opts", []))
        assert not opts & RETIRED, f"{where}: {opts & RETIRED} is a retired spelling; keep it hidden"
        assert not any("group" in o for o in opts), f"{where}: grouping is --by, not {opts}"
        if "--output" in opts or "-o" in opts:
            assert param.opts == ["--output", "-o"], f"{where}: the output option is -o/--output, got {param.opts}"
        annotation = hints.get(param.name)
        is_path = annotation is Path or Path in typing.get_args(annotation)
        if is_path and "--output" not in opts:
            assert param.name in INPUT_PATHS.get(path, set()), (
                f"{where}: {param.name} ({'/'.join(param.opts)}) is a path; a written path is -o/--output, a read "
                "one goes in INPUT_PATHS"
            )
        if "patient" in param.name and param.name != "patients":  # --patients N is a count
            assert isinstance(param, TyperArgument), f"{where}: the patient is the argument PATIENT_ID, not {opts}"
            assert param.metavar == "PATIENT_ID", f"{where}: {param.name} must show as PATIENT_ID"
    if path and path[0] == "patient" and path[-1] in ("edit", "delete"):
        assert [p.metavar for p in command.params if isinstance(p, TyperArgument)] == ["PATIENT_ID"]


def test_the_walk_sees_the_whole_tree():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"timeline", "derive", "export", "survival", "swimmer", "table", "ae add", "patient list",
            "audit log", "sample generate", "vocab ctcae", "user list"} <= names  # fmt: skip
    assert len(COMMANDS) > 60 and len(GROUPS) >= 15
    with_format = {" ".join(p) for p, _ in WITH_FORMAT}
    assert {"timeline", "derive", "export", "survival", "stopping", "table", "validate", "ae list"} <= with_format


def test_table_formats_are_what_the_writer_writes():
    assert tuple(f.value for f in TableFormat) == TABLE_FORMATS


def test_survival_and_stopping_refuse_a_bad_format_before_any_work():
    for cmd in ("survival", "stopping", "safety", "cuminc"):
        result = CliRunner().invoke(app, ["--db", "sqlite:///does/not/exist.db", cmd, "--format", "banana"],
                                    env={"COLUMNS": "250"})  # fmt: skip
        assert result.exit_code == 2
        assert "'banana' is not one of 'table', 'json'" in " ".join(result.output.split())


def test_shell_completion_produces_candidates(tkitrack_exe):
    def complete(words: str, cword: int) -> list[str]:
        env = {**os.environ, "_TKITRACK_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        done = subprocess.run([tkitrack_exe], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("tkitrack pat", 1) == ["patient"]
    assert complete("tkitrack ae ", 2) == ["add", "edit", "delete", "list"]  # in the order of --help
    assert complete("tkitrack survival --format ", 3) == ["table", "json"]
    assert complete("tkitrack derive --form", 2) == ["--format"]
    assert "--install-completion" in _help(()) and "--show-completion" in _help(())
    script = subprocess.run([tkitrack_exe, "--show-completion", "bash"], capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_TKITRACK_COMPLETE=complete_bash" in script.stdout


def _warned(result, old: str, new: str) -> None:
    assert f"warning: {old} is deprecated and will be removed in the next release; use {new}" in result.stderr


def test_retired_spellings_warn_and_still_work(tmp_path, run_cli):
    url = "sqlite:///unused.db"
    old = run_cli(url, "sample", "generate", "-n", "3", "--seed", "1", "--out", str(tmp_path / "g"))
    assert old.exit_code == 0, old.output
    _warned(old, "--out DIR", "-o DIR")
    assert (tmp_path / "g" / "patient.csv").exists()
    new = run_cli(url, "sample", "generate", "-n", "3", "--seed", "1", "-o", str(tmp_path / "h"))
    assert new.exit_code == 0 and "deprecated" not in new.stderr
    assert (tmp_path / "g" / "ae.csv").read_bytes() == (tmp_path / "h" / "ae.csv").read_bytes()
    both = run_cli(url, "sample", "published", "--out", str(tmp_path / "a"), "-o", str(tmp_path / "b"))
    assert both.exit_code == 2 and "--out DIR and -o DIR both given" in both.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    xlsx = run_cli(url, "template", str(tmp_path / "t"), "--xlsx")
    assert xlsx.exit_code == 0, xlsx.output
    _warned(xlsx, "the folder argument", "-o DIR")
    _warned(xlsx, "--xlsx", "--format xlsx")
    assert (tmp_path / "t" / "patient.xlsx").exists()
    fresh = run_cli(url, "template", "-o", str(tmp_path / "u"), "--format", "xlsx")
    assert fresh.exit_code == 0 and fresh.stderr == ""
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == sorted(p.name for p in (tmp_path / "u").iterdir())
    missing = run_cli(url, "template")
    assert missing.exit_code == 2 and "tkitrack template -o DIR" in missing.stderr


def test_exit_codes_are_the_documented_ones(run_cli, monkeypatch):
    """0 done, 1 a failed check, 2 usage, 4 internal error (3, a locked record: tests/cli/test_queries.py)."""
    from tkitrack.schemas import vocabulary

    url = "sqlite:///unused.db"
    assert run_cli(url, "vocab", "show", "sex").exit_code == 0
    assert run_cli(url, "vocab", "ctcae", "--search", "no such term at all").exit_code == 1
    assert run_cli(url, "vocab", "show", "colour").exit_code == 2
    monkeypatch.setattr(vocabulary, "drugs", lambda: 1 / 0)
    bug = run_cli(url, "vocab", "drugs")
    assert bug.exit_code == 4
    assert bug.stderr.startswith("error: internal error (ZeroDivisionError: division by zero); nothing was written.")
