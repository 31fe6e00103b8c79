"""Tests for tkitrack.cli.users: `tkitrack user add|list|disable|enable|password`."""

from __future__ import annotations

import json

from tkitrack.schemas.audit import read_audit_log
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.users import authenticate

PASSWORD = "correct horse battery"


def _signs_in(db_url: str, name: str, password: str) -> bool:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            return authenticate(s, name, password).account is not None
    finally:
        engine.dispose()


def test_add_with_a_prompted_password_twice(cli, db_url):
    result = cli("user", "add", "nurse", "--role", "site", "--site", "A", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "added site nurse (site A)"
    assert PASSWORD not in result.stdout
    assert _signs_in(db_url, "nurse", PASSWORD)
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            entry = read_audit_log(s, table="app_user").iloc[-1]
    finally:
        engine.dispose()
    assert (entry["user"], entry["record_id"], json.loads(entry["new_value"])) == (
        "tester", "nurse", {"role": "site", "site": "A"})  # fmt: skip


def test_add_from_stdin_and_list(cli):
    assert cli("user", "add", "dm", "--role", "data_manager", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    result = cli("user", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (row["name"], row["role"], row["site"], row["state"]) == ("dm", "data_manager", None, "active")


def test_add_refuses_bad_input_with_exit_2_and_writes_nothing(cli):
    short = cli("user", "add", "dm", "--role", "data_manager", "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "at least 12 characters (got 5)" in short.stderr
    no_site = cli("user", "add", "nurse", "--role", "site", "--password-stdin", input=PASSWORD + "\n")
    assert no_site.exit_code == 2 and "give --site for nurse" in no_site.stderr
    role = cli("user", "add", "x", "--role", "nurse", "--password-stdin", input=PASSWORD + "\n")
    assert role.exit_code == 2 and "role 'nurse' is not known" in role.stderr
    assert json.loads(cli("user", "list", "--format", "json").stdout) == []


def test_disable_enable_and_password(cli, db_url):
    cli("user", "add", "dm", "--role", "data_manager", "--password-stdin", input=PASSWORD + "\n")
    assert cli("user", "disable", "dm").exit_code == 2  # --reason is required
    result = cli("user", "disable", "dm", "--reason", "left the hospital")
    assert result.exit_code == 0 and result.stdout.strip() == "dm: disabled"
    assert cli("user", "disable", "dm", "--reason", "again").stdout.strip() == "dm was already disabled"
    assert "disabled" in cli("user", "list").stdout
    assert not _signs_in(db_url, "dm", PASSWORD)
    assert cli("user", "enable", "dm", "--reason", "back").stdout.strip() == "dm: enabled"
    result = cli("user", "password", "dm", "--password-stdin", input="a brand new passphrase\n")
    assert result.exit_code == 0 and result.stdout.strip() == "dm: password set; open sessions ended"
    assert _signs_in(db_url, "dm", "a brand new passphrase") and not _signs_in(db_url, "dm", PASSWORD)


def test_unknown_user_is_exit_1_with_a_hint(cli):
    result = cli("user", "password", "ghost", "--password-stdin", input=PASSWORD + "\n")
    assert (
        result.exit_code == 1 and "user ghost does not exist; list accounts with `tkitrack user list`" in result.stderr
    )


def test_user_help(run_cli, sqlite_url):
    result = run_cli(sqlite_url, "user", "--help")
    assert result.exit_code == 0
    for verb in ("add", "list", "disable", "enable", "password"):
        assert verb in result.stdout
