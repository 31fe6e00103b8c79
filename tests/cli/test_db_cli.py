"""Tests for tkitrack.cli.db: `tkitrack init`, `tkitrack db status`, `tkitrack db upgrade`, on both back ends."""

from __future__ import annotations

import pytest

from tkitrack.schemas.storage import head_revision

HEAD = head_revision()

COUNTS = (
    "records: patient 0, molecular 0, ihc 0, exposure 0, ae 0, assessment 0, procedure 0, disease_event 0, followup 0"
)


def test_init_twice(run_cli, empty_db_url, table_names):
    first = run_cli(empty_db_url, "init")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[0].startswith("created database ")
    assert first.stdout.splitlines()[0].endswith(f" (schema {HEAD})")
    assert first.stdout.splitlines()[1] == COUNTS
    assert "audit_log" in table_names(empty_db_url)
    second = run_cli(empty_db_url, "init")
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[0].endswith(f" is already at schema {HEAD}")


def test_db_status_before_and_after_init(run_cli, empty_db_url):
    before = run_cli(empty_db_url, "db", "status")
    assert before.exit_code == 0, before.output
    assert before.stdout.splitlines()[1:] == [f"schema: none (run tkitrack init); newest: {HEAD}"]
    assert run_cli(empty_db_url, "db", "upgrade").exit_code == 0
    after = run_cli(empty_db_url, "db", "status")
    assert after.stdout.splitlines()[1:] == [f"schema: {HEAD}; newest: {HEAD}", COUNTS]
    assert after.stdout.splitlines()[0].startswith("database: ")


def test_db_upgrade_on_a_current_database_and_status_counts(cli):
    assert cli("patient", "add", "P1").exit_code == 0
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f" is already at schema {HEAD}" in result.stdout
    assert "records: patient 1, molecular 0" in cli("db", "status").stdout


def test_record_commands_before_init_say_run_init(run_cli, empty_db_url):
    result = run_cli(empty_db_url, "patient", "add", "P1")
    assert result.exit_code == 1
    assert "is empty; run `tkitrack init`" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        pytest.param("postgresql+psycopg://postgres:secret@127.0.0.1:1/test", "cannot reach database "
                     "postgresql+psycopg://postgres:***@127.0.0.1:1/test", id="unreachable-postgresql"),
        pytest.param("postgresql://postgres@127.0.0.1:1/test", "cannot reach database", id="plain-postgresql-url"),
        pytest.param("nosuchdb://x/y", "cannot use database URL nosuchdb://x/y", id="unknown-dialect"),
    ],
)  # fmt: skip
def test_unusable_database_is_a_message_not_a_traceback(run_cli, url, says):
    for args in (["db", "status"], ["init"], ["ae", "list"]):
        result = run_cli(url, *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("error: ")
        assert says in result.stderr
        assert "secret" not in result.output
        assert "Traceback" not in result.output


def test_missing_folder_for_a_sqlite_path(run_cli, tmp_path):
    result = run_cli(str(tmp_path / "no" / "such" / "study.db"), "init")
    assert result.exit_code == 1
    assert "does not exist; create it or choose another --db" in result.stderr


def test_plain_path_and_environment_variable(run_cli, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tkitrack.cli import app

    path = tmp_path / "env.db"
    monkeypatch.setenv("TKITRACK_DB", str(path))
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert f"created database sqlite:///{path}" in result.stdout
    assert path.is_file()
