"""Account commands for the web application: `tkitrack user add|list|disable|enable|password`."""

from __future__ import annotations

import sys

import typer

from tkitrack.cli._common import (
    ListingFormat,
    command,
    fail,
    group,
    open_db,
    render,
    user,
)

__all__ = ["app"]

app = group("Manage the accounts that sign in to `tkitrack serve` (roles: site, data_manager, "
                  "investigator, admin).")  # fmt: skip


def _password(name: str, from_stdin: bool) -> str:
    """The new password: one line of standard input (scripts), else typed twice without echo."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise fail("--password-stdin: standard input held no password", 2)
        return line
    return typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)


@command(app, "add")
def add(
    name: str = typer.Argument(..., help="User name (letters, digits, '.', '-', '_'); the 'who' of the audit trail"),
    role: str = typer.Option(..., "--role", help="site, data_manager, investigator or admin"),
    site: str | None = typer.Option(None, "--site", help="The site whose patients a site user sees (site role only)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
) -> None:
    """Add an account; the password (12 characters or more) is asked for twice and stored as an Argon2id hash."""
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.users import add_user, check_password_rules

    engine = open_db()
    password = _password(name, password_stdin)
    check_password_rules(name, password)
    with transaction(engine) as session:
        add_user(session, name, role, password, site=site, by=user())
    typer.echo(f"added {role} {name}" + (f" (site {site})" if site else ""))


@command(app, "list")
def list_(fmt: ListingFormat = typer.Option("table", "--format", "-f", help="Output format")) -> None:
    """List accounts: role, site, state (active, locked, disabled), last sign-in."""
    import pandas as pd

    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.users import read_users

    with transaction(open_db()) as session:
        users = read_users(session)
    rows = [{"name": u.name, "role": u.role, "site": u.site,
             "state": "disabled" if u.disabled else (f"locked until {u.locked_until[:19]}Z" if u.locked_until else "active"),
             "last_sign_in": (u.last_sign_in_ts or "")[:19], "password_set": u.password_ts[:19]} for u in users]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["name", "role", "site", "state", "last_sign_in", "password_set"])
    render(frame, fmt, title="Accounts (times UTC)")


@command(app, "disable")
def disable(
    name: str = typer.Argument(..., help="User name"),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit trail; required)"),
) -> None:
    """Disable an account: it cannot sign in and its open sessions end at once (kept for the audit trail)."""
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.users import set_disabled

    with transaction(open_db()) as session:
        changed = set_disabled(session, name, True, by=user(), reason=reason)
    typer.echo(f"{name}: disabled" if changed else f"{name} was already disabled")


@command(app, "enable")
def enable(
    name: str = typer.Argument(..., help="User name"),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit trail; required)"),
) -> None:
    """Enable a disabled account again (also clears a lock-out)."""
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.users import set_disabled

    with transaction(open_db()) as session:
        changed = set_disabled(session, name, False, by=user(), reason=reason)
    typer.echo(f"{name}: enabled" if changed else f"{name} was already enabled")


@command(app, "password")
def password(
    name: str = typer.Argument(..., help="User name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
) -> None:
    """Set a new password: unlocks the account and ends its open sessions."""
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.users import check_password_rules, read_user, set_password

    engine = open_db()
    with transaction(engine) as session:
        read_user(session, name)  # an unknown name fails before the password is asked for
    new = _password(name, password_stdin)
    check_password_rules(name, new)
    with transaction(engine) as session:
        set_password(session, name, new, by=user())
    typer.echo(f"{name}: password set; open sessions ended")
