"""Audit-trail commands: `tkitrack audit verify` and `tkitrack audit log PATIENT`."""

from __future__ import annotations

from pathlib import Path

import typer

from tkitrack.cli._common import (
    ListingFormat,
    command,
    fail,
    group,
    open_db,
    patient_argument,
    render,
)

__all__ = ["app"]

app = group("Check and read the audit trail.")


#: Findings of the replay printed before "... and N more".
MAX_FINDINGS_SHOWN = 50


@command(app, "verify")
def verify(
    anchor: list[str] = typer.Option([], "--anchor", help="A chain head printed earlier (HASH or ENTRY:HASH) that "
                                     "must still be in the chain; repeat for several"),
    anchors: Path | None = typer.Option(None, "--anchors", help="Anchors file: check every head kept in it for this "
                                        "database, then append the current one [default: $TKITRACK_ANCHORS]"),
) -> None:  # fmt: skip
    """Recompute the hash chain, replay the trail against every table, check published chain heads (exit 1 if
    anything is not explained)."""
    from tkitrack.cli._common import anchors_path, publish_head
    from tkitrack.schemas.audit import Anchor, read_anchors, verify_chain
    from tkitrack.schemas.replay import replay_trail
    from tkitrack.schemas.storage import redact_url, transaction

    engine = open_db()
    path = anchors or anchors_path()
    try:
        given = [Anchor.parse(a) for a in anchor]
        if path is not None:
            given += read_anchors(path, redact_url(str(engine.url)))
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise fail(str(err), 2) from None
    with transaction(engine) as session:
        if engine.dialect.name == "postgresql":  # one snapshot for the chain, the head and every table
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = verify_chain(session, anchors=given)
        replay = replay_trail(session, limit=MAX_FINDINGS_SHOWN)
    if report.ok:
        batches = (f" ({report.batches} import batch(es) of {report.batch_rows} record(s), each batch's digest "
                   "recomputed)" if report.batches else "")  # fmt: skip
        typer.echo(f"audit trail intact: {report.entries} entries{batches}, every hash and link verified")
    if replay.ok:
        typer.echo(f"tables match the trail: {replay.records} records in {replay.tables} tables replayed")
    if report.ok and report.anchors:
        typer.echo(f"anchors: {report.anchors} published chain head(s) found in the chain")
    head = (report.head_seq, report.head_hash)
    if report.ok and replay.ok:
        publish_head(engine, head, "audit verify", path)
        return
    typer.echo(f"audit chain head: entry {head[0]}, hash {head[1]}")
    for finding in replay.findings:
        typer.echo(f"  {finding}", err=True)
    if replay.total > len(replay.findings):
        typer.echo(f"  ... and {replay.total - len(replay.findings)} more", err=True)
    problems = []
    if not report.ok:
        problems.append(f"audit trail broken at entry {report.broken_seq}: {report.problem} "
                        f"({report.entries} entries read)")  # fmt: skip
    if not replay.ok:
        problems.append(f"{replay.total} value(s), row(s) or deletion state(s) in the tables are not explained by "
                        "the audit trail (listed above)")  # fmt: skip
    raise fail("; ".join(problems))


@command(app, "log")
def log(
    patient_id: str | None = patient_argument(False, "Only this patient (all patients when omitted)"),
    table: str | None = typer.Option(None, "--record", help="Only this record type (ae, exposure, ...)"),
    fmt: ListingFormat = typer.Option("table", "--format", "-f", help="Output format"),
) -> None:
    """List the audit trail (who, when, record, field, old and new value, reason), oldest first."""
    from tkitrack.schemas.audit import read_audit_log
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        trail = read_audit_log(session, patient_id=patient_id, table=table)
    if patient_id is not None and trail.empty:
        raise fail(f"no audit entries for patient {patient_id}; check the id with `tkitrack patient list`")
    cols = ["seq", "ts", "user", "action", "table_name", "record_id", "field", "old_value", "new_value", "reason"]
    shown = trail[cols].rename(columns={"table_name": "record"})
    if fmt == "table":  # a terminal gets a readable digest; json and csv keep every character
        shown = shown.assign(
            ts=shown["ts"].str.slice(0, 19).str.replace("T", " ") + "Z",
            new_value=shown["new_value"].map(lambda v: v if v is None or len(v) <= 60 else v[:57] + "..."),
        )
    render(shown, fmt, title="Audit trail (UTC)", wide=("new_value", "reason"))
