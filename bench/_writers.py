"""Processes that write at once (for bench/reliability.py and the concurrency tests): start, rendezvous, collect.

Each worker is a module-level function run in a process of its own (``spawn``: nothing inherited but the
arguments), so that writers compete as separate users do: separate connections, separate Python interpreters.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "add_patients",
    "edit_field",
    "field_trail_problems",
    "run_processes",
    "scratch_database",
    "verify_chain_at",
]


def _child(target: Callable, args: tuple, index: int, barrier, out) -> None:
    try:
        barrier.wait()  # every process has imported what it needs: start together
        out.put((index, target(*args), None))
    except BaseException:
        out.put((index, None, traceback.format_exc()))


def run_processes(target: Callable, arg_list: list[tuple], *, timeout: float = 1800) -> list:
    """Run ``target(*args)`` for each ``args`` in its own process, all released at the same moment.

    Returns the results in the order of ``arg_list``; a worker that raised makes this raise RuntimeError with
    its traceback.
    """
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(arg_list))
    out = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(target, args, i, barrier, out)) for i, args in enumerate(arg_list)]
    for p in procs:
        p.start()
    results: list = [None] * len(arg_list)
    deadline = time.monotonic() + timeout
    try:
        for _ in procs:
            index, value, error = out.get(timeout=max(1.0, deadline - time.monotonic()))
            if error is not None:
                raise RuntimeError(f"worker {index} failed:\n{error}")
            results[index] = value
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    return results


@contextmanager
def scratch_database(backend: str, folder: Path, pg_url: str | None = None) -> Iterator[str]:
    """A fresh database migrated to the newest schema: a SQLite file in ``folder`` or a PostgreSQL schema of its
    own on ``pg_url`` (dropped afterwards); yields its URL."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tkitrack.schemas.storage import make_engine, upgrade

    if backend == "sqlite":
        url = f"sqlite:///{folder / f'reliability-{uuid.uuid4().hex[:8]}.db'}"
    else:
        schema = f"rel_{uuid.uuid4().hex}"
        admin = create_engine(pg_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}", "application_name": schema})
        url = url.render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        if backend != "sqlite":
            with admin.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :s"),
                             {"s": schema})  # fmt: skip
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def edit_field(url: str, record: str, record_id: str, field: str, values: list[str], n: int, seed: int,
               user: str) -> dict:  # fmt: skip
    """``n`` edits of one field to values drawn from ``values``, each its own transaction (as `tkitrack ... edit`).

    Returns how many changed the value, how many found it already so, how many gave up on a lock (BusyError),
    and any other error message.
    """
    from tkitrack.schemas.errors import BusyError, TkitrackError
    from tkitrack.schemas.storage import make_engine, transaction
    from tkitrack.schemas.store import update_record

    engine = make_engine(url)
    rng = random.Random(seed)
    out = {"changed": 0, "unchanged": 0, "busy": 0, "errors": []}
    try:
        for i in range(n):
            try:
                with transaction(engine) as session:
                    diff = update_record(session, record, record_id, {field: rng.choice(values)},
                                         reason=f"{user} edit {i + 1}", user=user)  # fmt: skip
                out["changed" if diff else "unchanged"] += 1
            except BusyError:
                out["busy"] += 1
            except TkitrackError as err:
                out["errors"].append(str(err))
    finally:
        engine.dispose()
    return out


def add_patients(url: str, ids: list[str], user: str, pause: float = 0.0) -> dict:
    """Add each patient through the command line (in process), as `tkitrack patient add ID ...` would.

    Returns {id: (exit code, output)}; the same ids given to several processes make them race.
    """
    from typer.testing import CliRunner

    from tkitrack.cli import app

    runner = CliRunner()
    out = {}
    for pid in ids:
        result = runner.invoke(app, ["--db", url, "--user", user, "patient", "add", pid, "--sex", "F",
                                     "--diagnosis-date", "2019-01-10", "--histology", "IMT"])  # fmt: skip
        out[pid] = (result.exit_code, result.output)
        if pause:
            time.sleep(pause)
    return out


def field_trail_problems(url: str, record: str, record_id: str, field: str) -> tuple[int, list[str]]:
    """(number of entries, problems) replaying the audit entries of one field: each entry's old value must be the
    previous entry's new value (the insert's value first), and the last new value the value stored now."""
    import json

    from sqlalchemy import select

    from tkitrack.schemas.audit import expanded_trail
    from tkitrack.schemas.storage import make_engine, transaction
    from tkitrack.schemas.store import _json_value, read_record

    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            t = expanded_trail(("seq", "field", "old_value", "new_value"), where=lambda c: (c.table_name == record)
                               & (c.record_id == str(record_id)) & c.field.in_([field, "*"]))  # fmt: skip
            rows = session.execute(select(t.c.seq, t.c.field, t.c.old_value, t.c.new_value)
                                   .order_by(t.c.seq, t.c.part)).all()  # fmt: skip
            stored = read_record(session, record, record_id)[field]
    finally:
        engine.dispose()
    problems = []
    value = None
    updates = 0
    for seq, name, old, new in rows:
        if name == "*":
            value = json.loads(new).get(field)
            value = None if value is None else str(value)
            continue
        updates += 1
        if old != value:
            problems.append(f"entry {seq}: old value {old!r}, but the value it replaced was {value!r}")
        value = new
    now = _json_value(stored)
    if value != (None if now is None else str(now)):
        problems.append(f"the trail ends at {value!r} but the table holds {now!r}")
    return updates, problems


def verify_chain_at(url: str) -> tuple[bool, int, str | None]:
    """(ok, entries, problem) of the audit chain of the database at ``url``; a batch entry counts as the insert
    entries of its rows (the trail as its readers see it)."""
    from tkitrack.schemas.audit import verify_chain
    from tkitrack.schemas.storage import make_engine, transaction

    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            report = verify_chain(session)
    finally:
        engine.dispose()
    return report.ok, report.entries - report.batches + report.batch_rows, report.problem
