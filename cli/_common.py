"""What every command shares: global options, opening the database, error reporting, rendering frames."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import typer

__all__ = [
    "CONTEXT",
    "EXIT_CODES",
    "ListingFormat",
    "State",
    "command",
    "derived",
    "fail",
    "force_option",
    "group",
    "open_db",
    "parse_numbers",
    "patient_argument",
    "publish_head",
    "renamed",
    "render",
    "render_listing",
    "render_rows",
    "report_failures",
    "retired_option",
    "shown_path",
    "state",
]

#: ``-h`` is ``--help`` on every command and group (click passes the setting down to every sub-context).
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

#: The exit codes every command keeps; the epilog of every ``--help``.
EXIT_CODES = (
    "Exit codes: 0 done; 1 the data or the request failed a check (errors in the data, a record or patient not "
    "found, a broken audit trail), nothing written; 2 usage error (unknown command or option, a bad value), "
    "nothing done; 3 the record is locked (a data manager unlocks it: tkitrack record unlock), nothing written; "
    "4 internal error (a bug: rerun with TKITRACK_DEBUG=1 and report it), nothing written; 130 interrupted."
)

#: ``--format`` of a listing (a table in the terminal, or JSON/CSV for scripts).
ListingFormat = Literal["table", "json", "csv"]

#: Error rows a failed write prints before it says how many more there are (the full listing goes to -o).
MAX_ERRORS_SHOWN = 200


@dataclass
class State:
    """Global options given before the command (``tkitrack --db URL --user NAME ...``)."""

    db: str | None = None
    user: str | None = None
    #: Engines this command opened (:func:`open_db`); closed when the command ends, so that its pooled
    #: connections are not left for the garbage collector (a command run in-process, as by the tests or the web
    #: app, would otherwise leave them open).
    engines: list = field(default_factory=list)


_STATE = State()


def state() -> State:
    return _STATE


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` to stderr and return the Exit to raise (a runaway message is cut, with its length)."""
    from tkitrack.schemas.errors import shorten

    typer.echo(f"error: {shorten(message, 4000)}", err=True)
    return typer.Exit(code)


def force_option():
    """The ``--force`` option of every command that writes files: replace files that exist."""
    return typer.Option(False, "--force", help="Replace output files that exist (otherwise nothing is written)")


def report_failures(failures, *, hint: str = "") -> None:
    """Print a refused write's query listing to stderr: the errors first (at most MAX_ERRORS_SHOWN rows), then
    the warnings summarised by rule (how many, and the first message), then ``hint`` (where the full listing is)."""
    if failures is None or not len(failures):
        return
    errors = failures[failures["severity"] == "error"]
    warnings = failures[failures["severity"] != "error"]
    if len(errors):
        render_listing(errors.head(MAX_ERRORS_SHOWN), err=True)
        if len(errors) > MAX_ERRORS_SHOWN:
            typer.echo(f"... and {len(errors) - MAX_ERRORS_SHOWN} more error(s) not shown", err=True)
    if len(warnings):
        import pandas as pd

        summary = (
            warnings.groupby("rule_id", sort=True)
            .agg(warnings=("rule_id", "size"), patients=("patient_id", "nunique"), first_message=("message", "first"))
            .reset_index()
        )
        render(
            pd.DataFrame(summary),
            title=f"{len(warnings)} warning(s) by rule (not shown one by one)",
            err=True,
            wide=("first_message",),
        )
    if hint:
        typer.echo(hint, err=True)


def group(help: str, **kwargs: Any) -> typer.Typer:
    """A command group that follows the conventions: ``-h``, the exit codes in its help, help when called bare."""
    return typer.Typer(help=help, epilog=EXIT_CODES, no_args_is_help=True, context_settings=CONTEXT, **kwargs)


def patient_argument(required: bool = True, help: str = "Patient id"):
    """The patient, named the same way by every command: the argument ``PATIENT_ID``."""
    return typer.Argument(... if required else None, metavar="PATIENT_ID", help=help, show_default=False)


def retired_option(*decls: str, flag: bool = False):
    """An old spelling kept for one release: hidden from ``--help``, read through :func:`renamed`."""
    return typer.Option(False if flag else None, *decls, hidden=True)


def renamed(value: Any, old_value: Any, *, old: str, new: str) -> Any:
    """The value of an option given under its new name or its retired one (a deprecation warning on stderr).

    Both names with different values is a usage error (exit 2)."""
    if old_value is None or old_value is False:
        return value
    typer.echo(f"warning: {old} is deprecated and will be removed in the next release; use {new}", err=True)
    if value is not None and value is not False and value != old_value:
        raise fail(f"{old} and {new} both given, with different values ({old_value} and {value}); give {new}", 2)
    return old_value


def command(app: typer.Typer, *args: Any, **kwargs: Any) -> Callable:
    """``app.command(...)`` whose errors reach the user as a message and an exit code, never a traceback.

    tkitrack's own errors (bad input, failed validation, unreachable database, missing browser) print what was
    wrong and how to fix it; a validation failure also prints its query listing.
    """

    def wrap(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*a: Any, **kw: Any) -> Any:
            from tkitrack.schemas.errors import TkitrackError, ValidationFailed

            try:
                return func(*a, **kw)
            except ValidationFailed as err:
                report_failures(err.failures)
                raise fail(str(err), 1) from None
            except TkitrackError as err:
                raise fail(str(err), err.exit_code) from None
            except KeyboardInterrupt:
                raise fail("interrupted; nothing was written", 130) from None
            except (typer.Exit, typer.Abort, typer.BadParameter):
                raise
            except BrokenPipeError:  # output piped into `head` and the reader left: not an error
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stays open until exit)
                raise typer.Exit(0) from None
            except Exception as err:  # a bug, not bad input: say so plainly, keep the traceback on request
                if os.environ.get("TKITRACK_DEBUG"):
                    raise
                raise fail(
                    f"internal error ({type(err).__name__}: {err}); nothing was written. "
                    "Rerun with TKITRACK_DEBUG=1 for the traceback and report it.",
                    4,
                ) from None
            finally:
                while _STATE.engines:
                    _STATE.engines.pop().dispose()

        kwargs.setdefault("epilog", EXIT_CODES)
        return app.command(*args, **kwargs)(run)

    return wrap


def open_db(*, create: bool = False):
    """An engine on the chosen database, checked to be at the current schema (unless ``create``)."""
    from tkitrack.schemas.storage import make_engine, require_current

    engine = make_engine(_STATE.db)
    _STATE.engines.append(engine)
    if not create:
        require_current(engine)
    return engine


def derived(cutoff: str | None = None, index_drug: str | None = None):
    """The derived datasets of the chosen database as it stood on ``cutoff``, each computed once per data version
    and options (and kept on disk: :mod:`tkitrack.outcomes.cache`)."""
    from tkitrack.outcomes.cache import Derived

    return Derived(engine=open_db(), cutoff=check_cutoff(cutoff), index_drug=index_drug)


def anchors_path():
    """The anchors file named by ``$TKITRACK_ANCHORS`` (None when unset): where printed chain heads are kept."""
    from pathlib import Path

    value = os.environ.get("TKITRACK_ANCHORS")
    return Path(value).expanduser() if value else None


def publish_head(engine, head: tuple[int, str], what: str, path=None) -> None:
    """Print the audit chain head the output was made from, and append it to the anchors file (docs/audit.md).

    The head names the exact data (every change moves it); published outside the database, it lets
    `tkitrack audit verify --anchor` prove later that the trail was not truncated or rebuilt.
    """
    from tkitrack.schemas.audit import append_anchor
    from tkitrack.schemas.storage import redact_url

    typer.echo(f"audit chain head: entry {head[0]}, hash {head[1]}")
    path = path or anchors_path()
    if path is not None:
        try:
            append_anchor(path, redact_url(str(engine.url)), head, what)
        except OSError as err:
            raise fail(f"cannot append the chain head to the anchors file {path}: {err.strerror or err}") from None


def user() -> str:
    from tkitrack.schemas.audit_chain import current_user

    return current_user(_STATE.user)


def _jsonable(frame):
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return json.loads(out.to_json(orient="records", date_format="iso"))


def render(
    frame, fmt: str = "table", *, title: str | None = None, err: bool = False, max_width: int = 40,
    wide: tuple[str, ...] = ("message", "detail"),
) -> None:  # fmt: skip
    """Print a frame as a rich table (terminal), JSON records or CSV; ``wide`` columns get the spare width.

    Every cell, header and title is plain text, never rich markup: a value holding ``[bold]`` or ``[/x]`` prints
    as typed. CSV goes through the one CSV writer (:func:`tkitrack.schemas.outputs.write_csv`, formula cells
    neutralised).
    """
    stream = sys.stderr if err else sys.stdout
    if fmt == "json":
        stream.write(json.dumps(_jsonable(frame), indent=2, default=str) + "\n")
        return
    if fmt == "csv":
        from tkitrack.schemas.outputs import write_csv

        write_csv(frame, stream)
        return
    _print_table(list(frame.columns), frame.itertuples(index=False), stream, title, max_width, wide)


def render_rows(
    rows: list[dict], columns: list[str], fmt: str = "table", *, title: str | None = None, err: bool = False
) -> None:
    """:func:`render` of rows as dicts, without pandas for a table or JSON (what a single-record command shows)."""
    stream = sys.stderr if err else sys.stdout
    if fmt == "json":
        shown = [{c: (None if _missing(r.get(c)) else r.get(c)) for c in columns} for r in rows]
        stream.write(json.dumps(shown, indent=2, default=str) + "\n")
    elif fmt == "csv":
        import pandas as pd

        render(pd.DataFrame(rows, columns=columns), "csv", err=err)
    else:
        _print_table(columns, ([r.get(c) for c in columns] for r in rows), stream, title, 40, ("message", "detail"))


def _print_table(columns, rows, stream, title, max_width, wide) -> None:
    """A rich table of plain-text cells (never markup); ``wide`` columns take the spare width."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cells = [["" if _missing(v) else _cell(v) for v in row] for row in rows]
    table = Table(title=Text(title) if title is not None else None, show_lines=False, header_style="bold")
    for i, col in enumerate(columns):
        if col in wide:
            table.add_column(Text(str(col)), overflow="fold", ratio=1, min_width=16)
        else:
            longest = max((len(row[i]) for row in cells), default=0)
            table.add_column(Text(str(col)), overflow="fold", max_width=max_width, min_width=min(longest, 12),
                             no_wrap=col in ("patient_id", "file"))  # fmt: skip
    for row in cells:
        table.add_row(*[Text(c) for c in row])
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 200  # piped: do not wrap at 80
    Console(file=stream, width=width).print(table, crop=False)  # a table wider than the terminal loses nothing


def _missing(value: Any) -> bool:
    """None, NaN, and pandas' NA/NaT (recognised by type, so that pandas is not imported for rows of dicts)."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # NaN
    return type(value).__name__ in ("NAType", "NaTType")


def _cell(value: Any) -> str:
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_listing(listing, *, err: bool = False, fmt: str = "table") -> None:
    """Print a query listing (patient, record, row, field, rule, severity, value, message)."""
    cols = [c for c in ("file", "patient_id", "record", "record_id", "row", "field", "rule_id", "severity", "value",
                        "message", "status") if c in listing.columns]  # fmt: skip
    shown = listing[cols]
    if fmt == "table":
        if "file" in cols:  # the message names the folder; the table names the file (none for a command)
            files = shown["file"].astype("string").fillna("")
            is_file = files.str.contains(r"[/\\.]", regex=True)
            shown = shown.assign(file=files.map(os.path.basename)) if is_file.any() else shown.drop(columns="file")
        empty = [c for c in shown.columns if shown[c].map(lambda v: _missing(v) or str(v) == "").all()]
        shown = shown.drop(columns=empty)
    render(shown, fmt, title="Queries", err=err, max_width=24)


def parse_numbers(text: str, option: str) -> list[float]:
    """``"365,730"`` -> ``[365.0, 730.0]`` for options that take days; a bad list is a usage error naming it."""
    from tkitrack.schemas.errors import InputError

    try:
        return [float(x) for x in text.split(",") if x.strip()] if text else []
    except ValueError:
        raise InputError(f"{option} takes numbers separated by commas (days), e.g. 365,730; got {text!r}") from None


def cutoff_option():
    """The ``--cutoff`` option of every command that derives or summarises: the data cut-off date."""
    return typer.Option(None, "--cutoff", help="Data cut-off date YYYY-MM-DD: records after it are not used")


def index_drug_option():
    """The ``--index-drug`` option of every command that derives endpoints: the drug whose first course is day 1."""
    return typer.Option(None, "--index-drug",
                        help="Index therapy: this drug's first course is day 1 [default: the first kinase inhibitor]")  # fmt: skip


def check_cutoff(cutoff: str | None):
    """The ``--cutoff`` value as a date (None when not given); anything but YYYY-MM-DD is a usage error."""
    import datetime as dt

    if cutoff is None:
        return None
    try:
        return dt.date.fromisoformat(cutoff.strip())
    except ValueError:
        raise fail(f"--cutoff must be a date YYYY-MM-DD, got {cutoff!r}", 2) from None


def read_records(cutoff: str | None = None) -> dict:
    """The database's typed record frames as they stood on ``cutoff`` (every record when None)."""
    from tkitrack.outcomes.cutoff import derive_records_at_cutoff
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import read_frames

    day = check_cutoff(cutoff)
    with transaction(open_db()) as session:
        frames = read_frames(session)
    return derive_records_at_cutoff(frames, day)


def shown_path(path: Path) -> str:
    """The path as the user can type it: relative to the working folder when inside it, else absolute."""
    full = path.resolve()
    try:
        return str(full.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(full)
