"""Figure 1: start-up of the command line, each command against a bare typer app doing the same amount of work.

Every side is run the same way: ``python SCRIPT ARGS`` in a fresh process (``SCRIPT`` is the installed
``tkitrack`` console script, or a temporary file holding the bare app), alternately, and the medians compared.

References (each a bare typer app in a temporary file, under the same Python and typer):

- **shaped app** (for ``--help``, issue 13.4): generated from tkitrack's own command tree, so it has the same
  shape: the root callback with the same global options, ``-h``, shell completion and the exit-code epilog, the
  same top-level commands and groups, each command with as many options (plain ``str``) and its help text. Its
  commands do nothing. ``tkitrack --help`` is compared with its ``--help``, every group's ``--help`` with the same
  group's ``--help`` in it. Target 1.3x.
- **bare app** (for single-record commands, issue 16.3): one typer command printing a line, ``--help`` of it: the
  start-up every typer program pays. Target 4x for ``timeline P``, ``ae add``, ``exposure add`` and ``patient add``
  (each write adds a new clean record; the table notes which path it took: ``light``, without pandas, or ``full``).
- **same-work floor** (reported, no target): a bare typer command that does what ``timeline P`` does by hand:
  opens the SQLite file with the standard library's ``sqlite3``, reads the patient's rows from the eight record
  tables, and prints them as a rich table. What ``timeline`` costs above it is SQLAlchemy, the schema check and
  tkitrack's own code.

``timeline`` on a 100,000-patient database (issue 13.4, under 1 s): importing 100,000 generated patients through
``tkitrack sample generate -n 100000 --import`` takes about an hour on these machines (10,000 took 337 s), so the
benchmark imports 200 generated patients that way and clones them 500 times in SQL (new patient ids ``...-Cnnn``,
new record ids; the audit trail is not cloned, a timeline does not read it): 100,000 patients with the generator's
mix of records. ``TKITRACK_BENCH_BIG_DB`` names an existing database to use instead.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import Result, paired_times

__all__ = ["BARE_APP", "run", "shaped_app_source"]

BARE_APP = '''\
import typer

app = typer.Typer(add_completion=False)


@app.command()
def hello(name: str = typer.Option("world", help="Who to greet")) -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


if __name__ == "__main__":
    app()
'''

#: The same work as ``timeline P`` with the standard library: read the patient's rows, print a rich table.
FLOOR_APP = '''\
import sqlite3

import typer

app = typer.Typer(add_completion=False)
TABLES = ("patient", "molecular", "exposure", "ae", "assessment", "procedure", "disease_event", "followup")


@app.command()
def timeline(db: str, patient_id: str) -> None:
    """The patient's rows of every record table, as one rich table."""
    from rich.console import Console
    from rich.table import Table

    con = sqlite3.connect(db)
    table = Table(title=patient_id)
    for col in ("record", "id", "date", "detail"):
        table.add_column(col)
    for name in TABLES:
        for row in con.execute(f"SELECT * FROM {name} WHERE patient_id = ? AND NOT deleted", (patient_id,)):
            table.add_row(name, str(row[0]), str(row[2]), " ".join(str(v) for v in row[3:8]))
    Console().print(table)


if __name__ == "__main__":
    app()
'''

TARGET_HELP = 1.3
TARGET_SINGLE = 4.0


def shaped_app_source() -> str:
    """A bare typer app with tkitrack's shape (see the module text), generated from its command tree."""
    import typer.main

    from tkitrack.cli import app

    root = typer.main.get_command(app)
    lines = [
        "import typer",
        "",
        "EPILOG = " + repr(root.epilog),
        "CONTEXT = {'help_option_names': ['-h', '--help']}",
        f"app = typer.Typer(help={root.help!r}, epilog=EPILOG, no_args_is_help=True, context_settings=CONTEXT)",
        "",
        "",
        "@app.callback()",
        "def _options(",
    ]
    for param in root.params:
        if param.name not in ("help", "install_completion", "show_completion"):
            lines.append(f"    {param.name}: str | None = typer.Option(None, {', '.join(map(repr, param.opts))},"
                         f" help={param.help!r}),")  # fmt: skip
    lines += ["):", "    pass", ""]

    def command(target: str, name: str, cmd, n: int) -> None:
        options = [p for p in cmd.params if p.name != "help"]
        lines.append(f"@{target}.command({name!r}, help={(cmd.help or '')!r}, epilog=EPILOG)")
        params = ", ".join(f"o{i}: str | None = typer.Option(None, '--o{i}', help={(p.help or '')!r})"
                           for i, p in enumerate(options))  # fmt: skip
        lines.extend([f"def c{n}({params}) -> None:", "    pass", ""])

    n = 0
    for name, cmd in root.commands.items():
        if hasattr(cmd, "commands"):
            var = f"g{n}"
            lines.append(f"{var} = typer.Typer(help={cmd.help!r}, epilog=EPILOG, no_args_is_help=True)")
            for sub_name, sub in cmd.commands.items():
                n += 1
                command(var, sub_name, sub, n)
            lines.append(f"app.add_typer({var}, name={name!r})")
        else:
            command("app", name, cmd, n)
        n += 1
    lines += ["", 'if __name__ == "__main__":', "    app()", ""]
    return "\n".join(lines)


def _script() -> list[str]:
    """How to start tkitrack: its console script under this Python, else ``-m tkitrack.cli``."""
    found = shutil.which("tkitrack", path=str(Path(sys.executable).parent))
    return [found] if found else ["-m", "tkitrack.cli"]


def _runner(argv: list[str], env: dict | None = None):
    def run() -> None:
        subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env)  # fmt: skip

    return run


def _path_taken(db: str, argv: list[str], env: dict) -> str:
    """Which path a single-record write took: ``light`` (no pandas imported) or ``full`` (the light path left the
    row to the full path, or failed to certify it)."""
    code = ("import sys\nfrom tkitrack.cli import app\ntry:\n    app(sys.argv[1:], standalone_mode=False)\n"
            "finally:\n    print('full' if 'pandas' in sys.modules else 'light', file=sys.stderr)\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, "--db", db, *argv], capture_output=True, text=True, env=env,
                          check=True)  # fmt: skip
    return done.stderr.strip().splitlines()[-1]


def _small_db(folder: Path) -> tuple[str, str]:
    """A SQLite database with the published cases (the timeline's patient) and 20 generated patients."""
    db = folder / "small.db"
    env = {**os.environ, "TKITRACK_USER": "bench"}
    for args in (["init"], ["import", str(Path(__file__).resolve().parents[1] / "sample_data" / "published")],
                 ["sample", "generate", "-n", "20", "--import"]):  # fmt: skip
        subprocess.run([sys.executable, *_script(), "--db", str(db), *args], check=True, capture_output=True, env=env)
    return str(db), "LETTER-IMT-1"


def _big_db(folder: Path, patients: int = 200, copies: int = 500) -> tuple[str, str]:
    """A SQLite database of ``patients * copies`` patients: generated ones imported, then cloned in SQL."""
    import sqlite3

    db = folder / "big.db"
    env = {**os.environ, "TKITRACK_USER": "bench"}
    for args in (["init"], ["sample", "generate", "-n", str(patients), "--seed", "5", "--import"]):
        subprocess.run([sys.executable, *_script(), "--db", str(db), *args], check=True, capture_output=True, env=env)
    con = sqlite3.connect(db)
    tables = ["patient", "molecular", "ihc", "exposure", "ae", "assessment", "procedure", "disease_event", "followup"]
    columns = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in tables}
    with con:
        for k in range(1, copies):
            for t in tables:
                cols = [c for c in columns[t] if c != "id"]
                chosen = ", ".join(f"patient_id || '-C{k:03d}'" if c == "patient_id" else c for c in cols)
                con.execute(f"INSERT INTO {t} ({', '.join(cols)}) SELECT {chosen} FROM {t} "
                            f"WHERE patient_id NOT LIKE '%-C%'")  # fmt: skip
    count = con.execute("SELECT count(*) FROM patient").fetchone()[0]
    con.close()
    return str(db), f"SYN-{patients // 2:05d}-C{copies // 2:03d}" if count else ""


def run(repeats: int = 21, group_repeats: int = 7) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bare, shaped, floor = folder / "bare_typer_app.py", folder / "shaped_typer_app.py", folder / "floor_app.py"
        bare.write_text(BARE_APP)
        shaped.write_text(shaped_app_source())
        floor.write_text(FLOOR_APP)
        results = []
        bare_help = _runner([str(bare), "--help"])
        bare_help()

        # 13.4: --help of the root and of every group against the shaped app
        import typer.main

        from tkitrack.cli import app

        groups = [n for n, c in typer.main.get_command(app).commands.items() if hasattr(c, "commands")]
        for args, reps in [([], repeats)] + [([g], group_repeats) for g in groups]:
            project, reference = _runner([*_script(), *args, "--help"]), _runner([str(shaped), *args, "--help"])
            project(), reference()  # warm the file cache and write the .pyc files
            p, b = paired_times(project, reference, reps)
            results.append(Result("1 start-up", f"`tkitrack {' '.join([*args, '--help'])}` vs shaped app", p, b,
                                  TARGET_HELP, reps))  # fmt: skip
        p, b = paired_times(_runner([*_script(), "--help"]), bare_help, repeats)
        results.append(Result("1 start-up", "`tkitrack --help` vs bare one-command app (reference)", p, b, None,
                              repeats))  # fmt: skip

        # 16.3: single-record commands against the bare app's start-up
        db, pid = _small_db(folder)
        env = {**os.environ, "TKITRACK_USER": "bench", "COLUMNS": "200"}
        timeline = _runner([*_script(), "--db", db, "timeline", pid], env)
        timeline()
        p, b = paired_times(timeline, bare_help, repeats)
        results.append(Result("1 start-up", f"`tkitrack timeline {pid}` (22+7 patients) vs bare app", p, b,
                              TARGET_SINGLE, repeats))  # fmt: skip
        same_work = _runner([str(floor), db, pid])
        same_work()
        p, b = paired_times(timeline, same_work, repeats)
        results.append(Result("1 start-up", "`tkitrack timeline` vs same-work floor (sqlite3 + rich)", p, b, None,
                              repeats))  # fmt: skip
        # single-record writes: each run adds a new, clean record (a fresh patient, an AE on another day, a
        # one-day exposure interval on another day: no overlap), so each is certified by the light path
        reps = max(5, repeats // 3)
        subprocess.run([sys.executable, *_script(), "--db", db, "patient", "add", "BENCH-1", "--diagnosis-date",
                        "2018-01-01"], check=True, capture_output=True, env=env)  # fmt: skip
        counter = iter(range(100_000))

        def day() -> str:
            return (dt.date(2019, 1, 1) + dt.timedelta(days=next(counter))).isoformat()

        writes = {
            "ae add": lambda: ["ae", "add", "BENCH-1", "--term", "Nausea", "--grade", "1", "--start", day()],
            "exposure add": lambda: ["exposure", "add", "BENCH-1", "--drug", "crizotinib", "--dose", "200", "--unit",
                                     "mg", "--frequency", "BID", "--start", (d := day()), "--end", d],
            "patient add": lambda: ["patient", "add", f"BENCH-P{next(counter)}", "--diagnosis-date", "2019-06",
                                    "--sex", "F"],
        }  # fmt: skip
        for name, argv in writes.items():
            path = _path_taken(db, argv(), env)

            def write(argv=argv) -> None:
                subprocess.run([sys.executable, *_script(), "--db", db, *argv()], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip

            write()
            p, b = paired_times(write, bare_help, reps)
            results.append(Result("1 start-up", f"`tkitrack {name} ...` (one clean record) vs bare app", p, b,
                                  TARGET_SINGLE, reps, {"path": path}))  # fmt: skip

        big = os.environ.get("TKITRACK_BENCH_BIG_DB")
        big_pid = os.environ.get("TKITRACK_BENCH_BIG_PATIENT", "SYN50000")
        if not big:
            big, big_pid = _big_db(folder)
        if big and Path(big).exists():
            import sqlite3

            con = sqlite3.connect(big)
            n_patients = con.execute("SELECT count(*) FROM patient").fetchone()[0]
            n_rows = con.execute("SELECT count(*) FROM ae WHERE patient_id = ?", (big_pid,)).fetchone()[0]
            con.close()
            run_big = _runner([*_script(), "--db", big, "timeline", big_pid], env)
            run_big()
            times = []
            for _ in range(max(5, repeats // 3)):
                t0 = time.perf_counter()
                run_big()
                times.append(time.perf_counter() - t0)
            times.sort()
            results.append(Result("1 start-up", f"`tkitrack timeline P` on a {n_patients:,}-patient SQLite database",
                                  times[len(times) // 2], None, None, len(times),
                                  {"target": "under 1 s", "database": f"{Path(big).stat().st_size / 2**20:.0f} MiB",
                                   "patient": f"{big_pid} ({n_rows} AEs)"}))  # fmt: skip
        return results
