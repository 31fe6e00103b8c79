"""Kill and concurrency, measured on SQLite and PostgreSQL (issue 18.6; docs/reliability.md reports a run).

``python -m bench.reliability [--kills 100] [--pg-kills 30] [--writers 8] [--ops 1000] [--only sqlite|postgresql]``

1. Kill trials: ``tkitrack import`` of a generated cohort (its own patient-id prefix per trial) runs as a real
   process and gets SIGKILL at a random moment, uniform over 1.1 x the time an undisturbed import takes. After
   each kill the cohort must be in the database entirely (every row of every record type, and one audit entry
   per row) or not at all; a trial that left anything else is a half-import. The chain is verified at the end.
2. Writers at once: ``--writers`` processes run ``--ops`` operations each through the command line (in process,
   so the messages are exactly what a user sees): edits of four shared AE grades, patients of their own, patients
   every writer tries to add at the same moment, AEs for their patients, deletions, and listings. Afterwards
   every reported success must be in the database once (no lost and no duplicated write), the audit entries of
   each shared grade must replay to its final value with every old value right, the chain must verify, and no
   output may hold "database is locked", a traceback, an IntegrityError or "internal error".
Not part of the default test run; ``tests/bench/test_reliability.py`` runs this code with tiny numbers.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench._writers import field_trail_problems, run_processes, scratch_database, verify_chain_at

__all__ = ["RAW_TEXT", "concurrency", "kill_trials", "mixed_writer", "run"]

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: What a user must never see: the raw lock error, a traceback, SQL constraint text, or an internal error.
RAW_TEXT = ("database is locked", "Traceback", "IntegrityError", "UniqueViolation", "OperationalError",
            "internal error", "duplicate key")  # fmt: skip
SHARED_AES = 4
_ADD = ["--sex", "F", "--diagnosis-date", "2019-01-10", "--histology", "IMT"]


# ---------------------------------------------------------------------------------------------------- kill trials
def _write_cohort(folder: Path, n_patients: int, seed: int, prefix: str) -> dict[str, int]:
    from tkitrack.sample_data.generate import generate_cohort

    folder.mkdir(parents=True, exist_ok=True)
    frames = generate_cohort(n_patients, seed=seed, prefix=prefix)
    for record, frame in frames.items():
        frame.to_csv(folder / f"{record}.csv", index=False)
    return {r: len(f) for r, f in frames.items() if len(f)}


def _cohort_rows(url: str, prefix: str) -> tuple[dict[str, int], int]:
    """Rows per record type and audit entries of the patients whose id starts with ``prefix``."""
    from sqlalchemy import func, select

    from tkitrack.schemas.audit import expanded_trail
    from tkitrack.schemas.models import RECORD_MODELS
    from tkitrack.schemas.storage import make_engine, transaction

    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            rows = {}
            for record, model in RECORD_MODELS.items():
                t = model.__table__
                rows[record] = session.execute(select(func.count()).where(t.c.patient_id.like(f"{prefix}-%"))).scalar()
            a = expanded_trail(("seq",), where=lambda c: c.patient_id.like(f"{prefix}-%"))  # batch rows included
            audit = session.execute(select(func.count()).select_from(a)).scalar()
    finally:
        engine.dispose()
    return {r: n for r, n in rows.items() if n}, audit


def _tkitrack() -> list[str]:
    exe = Path(sys.executable).parent / "tkitrack"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tkitrack.cli"]


def kill_trials(url: str, trials: int, *, workdir: Path, seed: int = 18, n_patients: int = 60,
                stop_at: float | None = None, on_trial=None) -> dict:  # fmt: skip
    """SIGKILL ``trials`` imports at random moments; count complete, empty and half imports (see module doc).

    ``stop_at`` (a ``time.time()``): start no trial after it (the figures say how many ran); ``on_trial`` is
    called with the figures so far after each trial.
    """
    rng = random.Random(seed)
    folder = workdir / "cohort"
    expected = None
    # an undisturbed import first: the time window of the kills and the full row counts
    durations = []
    for k in range(2):
        prefix = f"U{k}"
        expected = _write_cohort(workdir / prefix, n_patients, seed, prefix)
        started = time.monotonic()
        done = subprocess.run([*_tkitrack(), "--db", url, "--user", "reliability", "import", str(workdir / prefix)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        durations.append(time.monotonic() - started)
        if done.returncode != 0:
            raise RuntimeError(f"the undisturbed import failed: {done.stdout}{done.stderr}")
    window = 1.1 * max(durations)
    outcome: Counter = Counter()
    halves, messages = [], []
    done_trials = 0
    for trial in range(trials):
        if stop_at is not None and time.time() > stop_at:
            break
        prefix = f"K{trial:03d}"
        counts = _write_cohort(folder / prefix, n_patients, seed, prefix)
        at = rng.uniform(0, window)
        proc = subprocess.Popen([*_tkitrack(), "--db", url, "--user", "reliability", "import", str(folder / prefix)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            proc.wait(timeout=at)
            killed = False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            killed = True
        output = proc.communicate()[0]
        rows, audit = _cohort_rows(url, prefix)
        if rows == counts and audit == sum(counts.values()):
            outcome["complete (killed after the commit)" if killed else "complete (finished before the kill)"] += 1
        elif not rows and not audit:
            outcome["nothing written (killed before the commit)"] += 1
        else:
            outcome["HALF-IMPORT"] += 1
            halves.append({"trial": trial, "rows": rows, "audit": audit, "expected": counts})
        if not killed and proc.returncode != 0:
            messages.append(output[-500:])
        done_trials += 1
        if on_trial is not None:
            on_trial({"trials": done_trials, "outcomes": dict(outcome), "half_imports": halves})
    ok, entries, problem = verify_chain_at(url)
    return {"trials": done_trials, "trials_planned": trials, "window_s": round(window, 2), "undisturbed_s": [round(d, 2) for d in durations],
            "rows_per_import": sum(expected.values()), "outcomes": dict(outcome), "half_imports": halves,
            "failed_without_kill": messages, "chain_ok": ok, "chain_entries": entries, "chain_problem": problem}  # fmt: skip


# ------------------------------------------------------------------------------------------------ writers at once
def mixed_writer(url: str, writer: int, ops: int, seed: int, stop_at: float | None = None) -> dict:
    """One writer's ``ops`` operations through the command line (see module doc); what it saw, op by op.

    ``stop_at`` (a ``time.time()``): no operation starts after it (``ops`` says how many ran)."""
    import re

    from typer.testing import CliRunner

    from tkitrack.cli import app

    runner = CliRunner()
    rng = random.Random(seed * 1000 + writer)
    user = f"writer{writer}"
    mine: list[str] = []  # own patients added and not deleted
    seen: dict = {"added": [], "contested": {}, "ae_added": Counter(), "deleted": [], "edits_changed": Counter(),
                  "edits_unchanged": 0, "reads": 0, "busy": 0, "bad_output": [], "other_errors": [], "ops": Counter()}  # fmt: skip

    def cli(*args: str):
        result = runner.invoke(app, ["--db", url, "--user", user, *args])
        text = result.output
        if any(raw in text for raw in RAW_TEXT):
            seen["bad_output"].append(text[-800:])
        if "the database is busy" in text:
            seen["busy"] += 1
        return result.exit_code, text

    for i in range(ops):
        if stop_at is not None and time.time() > stop_at:
            break
        kind = ("edit", "edit", "edit", "add", "add", "contested", "ae", "delete", "read", "read")[i % 10]
        if (kind == "ae" and not mine) or (kind == "delete" and len(mine) < 2):
            kind = "add"
        seen["ops"][kind] += 1
        if kind == "edit":
            ae = str(rng.randint(1, SHARED_AES))
            code, text = cli("ae", "edit", ae, "--grade", str(rng.randint(1, 3)), "--reason", f"{user} op {i}")
            if code == 0 and "nothing changed" in text:
                seen["edits_unchanged"] += 1
            elif code == 0 and re.search(r"grade \d -> \d", text):
                seen["edits_changed"][ae] += 1
            elif "the database is busy" not in text:
                seen["other_errors"].append(text[-300:])
        elif kind == "add":
            pid = f"W{writer}-{i:04d}"
            code, text = cli("patient", "add", pid, *_ADD)
            if code == 0:
                seen["added"].append(pid)
                mine.append(pid)
            elif "the database is busy" not in text:
                seen["other_errors"].append(text[-300:])
        elif kind == "contested":  # every writer reaches op i at about the same moment: the same id
            pid = f"C{i:04d}"
            code, text = cli("patient", "add", pid, *_ADD)
            # PT011 in its listing (the table may wrap the message at the terminal's width)
            friendly = code == 1 and "PT011" in text and "error: 1 error(s) in tkitrack patient add" in text
            seen["contested"][pid] = "added" if code == 0 else "refused PT011" if friendly else "other"
            if code != 0 and not friendly and "the database is busy" not in text:
                seen["other_errors"].append(text[-300:])
        elif kind == "ae":
            pid = rng.choice(mine)
            code, text = cli("ae", "add", pid, "--term", "Nausea", "--grade", "1", "--start", "2019-03-01")
            if code == 0:
                seen["ae_added"][pid] += 1
            elif "the database is busy" not in text:
                seen["other_errors"].append(text[-300:])
        elif kind == "delete":
            pid = mine.pop(rng.randrange(len(mine)))
            code, text = cli("patient", "delete", pid, "--reason", f"{user} op {i}")
            if code == 0:
                seen["deleted"].append(pid)
            else:
                mine.append(pid)
                if "the database is busy" not in text:
                    seen["other_errors"].append(text[-300:])
        else:
            code, text = cli("ae", "list", "--patient", "S1", "--format", "csv")
            seen["reads"] += code == 0
            if code != 0:
                seen["other_errors"].append(text[-300:])
    seen["ae_added"] = dict(seen["ae_added"])
    seen["edits_changed"] = dict(seen["edits_changed"])
    seen["ops"] = dict(seen["ops"])
    return seen


def _seed_shared(url: str) -> None:
    import pandas as pd

    from tkitrack.schemas.storage import make_engine, transaction
    from tkitrack.schemas.store import add_records

    engine = make_engine(url)
    ae = {"patient_id": "S1", "term": "Gait disturbance", "grade": "1", "start": "2019-12", "serious": "no"}
    try:
        with transaction(engine) as session:
            add_records(session, {"patient": pd.DataFrame([{"patient_id": "S1", "sex": "F", "histology": "IMT",
                                                           "diagnosis_date": "2019-01-10"}]),
                                  "ae": pd.DataFrame([ae] * SHARED_AES)}, user="setup", source="reliability")  # fmt: skip
    finally:
        engine.dispose()


def _stored(url: str) -> dict:
    from sqlalchemy import func, select

    from tkitrack.schemas.audit import expanded_trail
    from tkitrack.schemas.models import AdverseEvent, Patient
    from tkitrack.schemas.storage import make_engine, transaction

    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            p, ae = Patient.__table__, AdverseEvent.__table__
            a = expanded_trail(("patient_id",), where=lambda c: (c.table_name == "patient") & (c.action == "insert"))
            patients = dict(session.execute(select(p.c.patient_id, p.c.deleted)).all())
            aes = dict(session.execute(select(ae.c.patient_id, func.count()).where(ae.c.term == "Nausea")
                                       .group_by(ae.c.patient_id)).all())  # fmt: skip
            inserts = Counter(session.execute(select(a.c.patient_id)).scalars())
    finally:
        engine.dispose()
    return {"patients": patients, "nausea": aes, "patient_inserts": inserts}


def concurrency(url: str, writers: int, ops: int, *, seed: int = 18, stop_at: float | None = None) -> dict:
    """``writers`` processes x ``ops`` operations at once, then every check of the module doc; the figures."""
    _seed_shared(url)
    started = time.monotonic()
    runs = run_processes(mixed_writer, [(url, w, ops, seed, stop_at) for w in range(writers)], timeout=86_400)
    elapsed = time.monotonic() - started
    db = _stored(url)
    lost, duplicated = [], []
    for run in runs:
        for pid in run["added"]:
            if pid not in db["patients"]:
                lost.append(f"patient {pid} (added)")
        for pid in run["deleted"]:
            if not db["patients"].get(pid):
                lost.append(f"deletion of patient {pid}")
        for pid, n in run["ae_added"].items():
            if db["nausea"].get(pid, 0) != n:
                (lost if db["nausea"].get(pid, 0) < n else duplicated).append(
                    f"AEs of {pid}: {n} added, {db['nausea'].get(pid, 0)} stored"
                )
    contested: dict[str, Counter] = {}
    for run in runs:
        for pid, what in run["contested"].items():
            contested.setdefault(pid, Counter())[what] += 1
    for pid, got in contested.items():
        if got["added"] != 1 or pid not in db["patients"]:
            (duplicated if got["added"] > 1 else lost).append(f"contested patient {pid}: {dict(got)}")
    duplicated += [f"patient {pid}: {n} insert entries" for pid, n in db["patient_inserts"].items() if n != 1]
    replay = {}
    for ae in range(1, SHARED_AES + 1):
        updates, problems = field_trail_problems(url, "ae", str(ae), "grade")
        changed = sum(run["edits_changed"].get(str(ae), 0) for run in runs)
        if updates != changed:
            problems.append(f"{changed} edits reported a change, the trail has {updates}")
        replay[ae] = {"updates": updates, "problems": problems}
    ok, entries, problem = verify_chain_at(url)
    ops_done = Counter()
    for run in runs:
        ops_done.update(run["ops"])
    return {
        "writers": writers, "ops_per_writer": ops, "ops_done": sum(ops_done.values()), "seconds": round(elapsed, 1),
        "ops": dict(ops_done),
        "patients_added": sum(len(r["added"]) for r in runs), "deleted": sum(len(r["deleted"]) for r in runs),
        "ae_added": sum(sum(r["ae_added"].values()) for r in runs),
        "edits_changed": sum(sum(r["edits_changed"].values()) for r in runs),
        "edits_unchanged": sum(r["edits_unchanged"] for r in runs), "reads": sum(r["reads"] for r in runs),
        "contested_ids": len(contested), "contested": dict(Counter(w for c in contested.values() for w in c.elements())),
        "lost": lost, "duplicated": duplicated, "replay": replay, "busy_messages": sum(r["busy"] for r in runs),
        "bad_output": [t for r in runs for t in r["bad_output"]][:10],
        "bad_output_count": sum(len(r["bad_output"]) for r in runs),
        "other_errors": [t for r in runs for t in r["other_errors"]][:10],
        "other_error_count": sum(len(r["other_errors"]) for r in runs),
        "chain_ok": ok, "chain_entries": entries, "chain_problem": problem,
    }  # fmt: skip


def run(backend: str, *, kills: int, writers: int, ops: int, pg_url: str = PG_URL, n_patients: int = 60,
        out: Path | None = None, stop_at: float | None = None) -> dict:  # fmt: skip
    """Both measurements on one back end, each on a fresh database; writes the figures to ``out`` as they come."""
    result: dict = {"backend": backend}

    def save() -> None:
        if out is not None:
            out.write_text(json.dumps(result, indent=2, default=str) + "\n")

    with tempfile.TemporaryDirectory(prefix="tkitrack-reliability-") as tmp:
        work = Path(tmp)
        if kills:
            with scratch_database(backend, work, pg_url) as url:
                result["kills"] = kill_trials(url, kills, workdir=work / "kills", n_patients=n_patients,
                                              stop_at=stop_at, on_trial=lambda so_far: (result.update(kills=so_far), save()))  # fmt: skip
            save()
        if writers and ops:
            with scratch_database(backend, work, pg_url) as url:
                result["concurrency"] = concurrency(url, writers, ops, stop_at=stop_at)
            save()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100, help="SIGKILL trials on SQLite (default 100)")
    parser.add_argument("--pg-kills", type=int, default=30, help="SIGKILL trials on PostgreSQL (default 30)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--ops", type=int, default=1000, help="operations per writer")
    parser.add_argument("--patients", type=int, default=60, help="patients per killed import")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one back end only")
    parser.add_argument("--skip", choices=("kills", "writers"), help="leave one of the two measurements out")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--stop-at", help="UTC time HH:MM after which no trial or operation starts (a bounded run)")
    parser.add_argument("--json", type=Path, help="write the figures here (per back end: NAME-<backend>.json)")
    opts = parser.parse_args(argv)
    stop_at = None
    if opts.stop_at:
        from datetime import UTC, datetime

        hour, minute = (int(x) for x in opts.stop_at.split(":"))
        stop_at = datetime.now(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()
    for backend in [opts.only] if opts.only else ["sqlite", "postgresql"]:
        out = opts.json.with_name(f"{opts.json.stem}-{backend}.json") if opts.json else None
        kills = 0 if opts.skip == "kills" else opts.kills if backend == "sqlite" else opts.pg_kills
        found = run(backend, kills=kills, writers=0 if opts.skip == "writers" else opts.writers,
                    ops=opts.ops, pg_url=opts.pg_url, n_patients=opts.patients, out=out, stop_at=stop_at)  # fmt: skip
        print(json.dumps(found, indent=2, default=str), flush=True)


if __name__ == "__main__":
    main()
