"""Malformed inputs for `tkitrack import` and `tkitrack validate`: no traceback, no internal error, and both agree.

``python -m bench.malformed --cases 10000`` builds that many malformed input folders from a small valid one
(seeded, reproducible), runs ``import`` (on a fresh SQLite database) and ``validate`` on each through the real
command line, in process, and reports: exit codes, tracebacks, "internal error" messages, and every case where
``validate`` and ``import`` disagree (exit code, or the errors of their listings). The property-based test
``tests/bench/test_malformed.py`` draws from the same mutations with hypothesis, in bounded time.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import shutil
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

__all__ = ["BASE", "MUTATIONS", "NASTY", "check_case", "make_case", "run_case"]

#: A small valid template folder (two patients, every record type they need), as CSV text per file.
BASE: dict[str, list[list[str]]] = {
    "patient": [["patient_id", "sex", "birth_date", "diagnosis_date", "histology", "height_cm", "weight_kg", "note"],
                ["P1", "F", "2013-02", "2019-01-10", "IMT", "118", "21", "letter case"],
                ["P2", "M", "2010", "2018-05-02", "IMT", "130", "27", ""]],
    "exposure": [["patient_id", "drug", "dose", "unit", "frequency", "start", "end", "reason", "discontinued"],
                 ["P1", "crizotinib", "200", "mg", "QD", "2019-02-01", "2019-08-01", "toxicity", "true"],
                 ["P2", "crizotinib", "280", "mg/m2", "BID", "2018-06-01", "", "", ""]],
    "ae": [["patient_id", "term", "grade", "start", "end", "serious"],
           ["P1", "Gait disturbance", "2", "2019-07", "2019-09-01", "false"]],
    "assessment": [["patient_id", "date", "modality", "baseline", "sum_diameters", "response"],
                   ["P1", "2019-01-20", "MRI", "true", "41.5", ""], ["P1", "2019-06-01", "MRI", "false", "0", "CR"]],
    "followup": [["patient_id", "date", "vital_status"], ["P1", "2023-08-01", "alive"], ["P2", "2020-01-15", "alive"]],
}  # fmt: skip
#: Cell values that broke tkitrack before, and their neighbours.
NASTY = [
    "[bold]", "[/x]", "[link=file:///etc/passwd]x[/link]", "[red]P1[/red]", ":smile:", "\x1b[2J", "NUL\x00-42",
    "2019-07-29T99:99junk", "2019-02-30", "9999-99-99", "2019-06-14T10:30", "inf", "-inf", "nan", "1.8e308", "1e400",
    "-5", "=HYPERLINK(\"x\")", "+1+1", "@SUM(A1)", "\t", "\r", "'", '"', ",", "\n", "", " ", "0", "-0", "1e-400",
    "999999999999999999999", "x" * 70, "x" * 300, "y" * 5000, "é", "\u202e", "\ufeff", "P1", "P2", "true", "TRUE",
    "None", "NULL", "N/A", "#DIV/0!", "${jndi:x}", "'; DROP TABLE patient; --", "../../etc/passwd", "%s%s%n",
]  # fmt: skip


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _base(folder: Path) -> dict[str, list[list[str]]]:
    tables = {name: [list(r) for r in rows] for name, rows in BASE.items()}
    folder.mkdir(parents=True, exist_ok=True)
    return tables


def _save(folder: Path, tables: dict[str, list[list[str]]]) -> None:
    for name, rows in tables.items():
        _write_csv(folder / f"{name}.csv", rows)


def _cell(rng: random.Random, tables) -> tuple[str, int, int]:
    name = rng.choice(sorted(tables))
    rows = tables[name]
    return name, rng.randrange(1, len(rows)) if len(rows) > 1 else 0, rng.randrange(len(rows[0]))


def plant_value(folder: Path, rng: random.Random, value: str) -> None:
    """One cell of one file holds ``value``."""
    tables = _base(folder)
    name, r, c = _cell(rng, tables)
    tables[name][max(r, 1) if len(tables[name]) > 1 else r][c] = value
    _save(folder, tables)


def plant_everywhere(folder: Path, rng: random.Random, value: str) -> None:
    """Every cell of one column holds ``value`` (a header named ``value`` when it lands on the header)."""
    tables = _base(folder)
    name, _, c = _cell(rng, tables)
    for row in tables[name][1:]:
        row[c] = value
    if rng.random() < 0.2:
        tables[name][0][c] = value
    _save(folder, tables)


def ragged_row(folder: Path, rng: random.Random, value: str) -> None:
    """A row longer or shorter than its header."""
    tables = _base(folder)
    name, r, _ = _cell(rng, tables)
    row = tables[name][max(r, 1) if len(tables[name]) > 1 else 0]
    if rng.random() < 0.5:
        row.extend([value] * rng.randint(1, 3))
    else:
        del row[rng.randrange(len(row)) :]
    _save(folder, tables)


def header_trouble(folder: Path, rng: random.Random, value: str) -> None:
    """A header renamed, dropped (with its column), duplicated or left empty."""
    tables = _base(folder)
    name, _, c = _cell(rng, tables)
    kind = rng.randrange(4)
    rows = tables[name]
    if kind == 0:
        rows[0][c] = value or "unknown_column"
    elif kind == 1:
        for row in rows:
            del row[c]
    elif kind == 2:
        rows[0][c] = rows[0][(c + 1) % len(rows[0])]
    else:
        rows[0][c] = ""
    _save(folder, tables)


def duplicate_row(folder: Path, rng: random.Random, value: str) -> None:
    """A row given twice (a patient listed twice, an AE twice)."""
    tables = _base(folder)
    name, r, _ = _cell(rng, tables)
    rows = tables[name]
    rows.append(list(rows[max(r, 1) if len(rows) > 1 else 0]))
    _save(folder, tables)


def bad_bytes(folder: Path, rng: random.Random, value: str) -> None:
    """A file that is not UTF-8 text, is empty, or holds a broken quote."""
    tables = _base(folder)
    _save(folder, tables)
    path = folder / f"{rng.choice(sorted(tables))}.csv"
    kind = rng.randrange(4)
    data = path.read_bytes()
    if kind == 0:
        path.write_bytes(data.replace(b"P1", b"P\xe9\xff1"))
    elif kind == 1:
        path.write_bytes(b"")
    elif kind == 2:
        path.write_bytes(data + b'"unclosed,' + value.encode("utf-8", "replace"))
    else:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))))


def odd_files(folder: Path, rng: random.Random, value: str) -> None:
    """A misnamed file, a ZIP that is not a workbook, a workbook with a formula without value, an error cell
    or a sheet named after nothing, or an empty folder."""
    tables = _base(folder)
    kind = rng.randrange(6)
    if kind == 5:
        return  # an empty folder
    _save(folder, tables)
    if kind == 0:
        shutil.move(folder / "ae.csv", folder / "adverse_events.csv")
    elif kind == 1:
        with zipfile.ZipFile(folder / "ae.xlsx", "w") as z:
            z.writestr("[Content_Types].xml", value or "x")
        (folder / "ae.csv").unlink()
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        try:  # openpyxl refuses some sheet titles and cell values: keep the CSV then
            sheet.title = "exposure" if kind != 4 else (value[:31] or "Sheet9")
            for row in tables["exposure"]:
                sheet.append(row)
            sheet["C2"] = "=B2*2" if kind == 2 else value
            if kind == 3:
                sheet["C3"] = "#DIV/0!"
            book.save(folder / "exposure.xlsx")
        except Exception:
            (folder / "exposure.xlsx").unlink(missing_ok=True)
            return
        (folder / "exposure.csv").unlink()


def sdtm_trouble(folder: Path, rng: random.Random, value: str) -> None:
    """An SDTM folder: a second DM file, a missing AEDECOD, a ragged DS row, an invalid AETOXGR or date."""
    folder.mkdir(parents=True, exist_ok=True)
    dm = [
        ["STUDYID", "DOMAIN", "USUBJID", "SITEID", "SEX", "BRTHDTC", "DTHDTC"],
        ["S", "DM", "S-1", "01", "F", "2010-01-01", ""],
        ["S", "DM", "S-2", "01", "M", "2011", ""],
    ]
    ds = [["USUBJID", "DSDECOD", "DSSTDTC"], ["S-1", "RANDOMIZED", "2019-01-02"], ["S-2", "RANDOMIZED", "2019-01-05"]]
    ae = [["USUBJID", "AETERM", "AEDECOD", "AESEV", "AETOXGR", "AESTDTC"],
          ["S-1", "Nausea", "NAUSEA", "MILD", "1", "2019-02-01T10:30"]]  # fmt: skip
    kind = rng.randrange(5)
    if kind == 0:
        _write_csv(folder / "dm_extra.csv", [list(r) for r in dm])
    elif kind == 1:
        ae = [[c for i, c in enumerate(r) if i != 2] for r in ae]
    elif kind == 2:
        ds[1].extend(["x", "y", "z"])
    elif kind == 3:
        ae[1][4] = value
    else:
        ae[1][5] = value
    _write_csv(folder / "dm.csv", dm)
    _write_csv(folder / "ds.csv", ds)
    _write_csv(folder / "ae.csv", ae)


MUTATIONS: tuple[Callable[[Path, random.Random, str], None], ...] = (
    plant_value, plant_everywhere, ragged_row, header_trouble, duplicate_row, bad_bytes, odd_files, sdtm_trouble,
)  # fmt: skip


def make_case(folder: Path, seed: int, value: str | None = None, mutation: int | None = None) -> str:
    """Write malformed case ``seed`` into ``folder`` (a value from NASTY unless given); returns its name."""
    rng = random.Random(seed)
    mutate = MUTATIONS[mutation if mutation is not None else rng.randrange(len(MUTATIONS))]
    value = value if value is not None else rng.choice(NASTY)
    mutate(folder, rng, value)
    return mutate.__name__


def run_case(folder: Path, db_template: Path, work: Path) -> dict:
    """Run import (fresh database) and validate on one input; the exit codes, outputs and error listings."""
    from typer.testing import CliRunner

    from tkitrack.cli import app

    runner = CliRunner()
    db = work / "case.db"
    shutil.copyfile(db_template, db)
    outs = {}
    for command in ("import", "validate"):
        listing = work / f"{command}.csv"
        listing.unlink(missing_ok=True)
        result = runner.invoke(app, ["--db", f"sqlite:///{db}", "--user", "fuzz", command, str(folder), "-o",
                                     str(listing)])  # fmt: skip
        errors = set()
        if listing.exists():
            import pandas as pd

            found = pd.read_csv(listing, dtype=str, keep_default_na=False)
            found = found[found["severity"] == "error"]
            errors = set(map(tuple, found[["record", "row", "field", "rule_id"]].values.tolist()))
        outs[command] = {"exit": result.exit_code, "output": result.output, "errors": errors,
                         "exception": None if result.exception is None or isinstance(result.exception, SystemExit) else repr(result.exception)}  # fmt: skip
    return outs


def check_case(outs: dict) -> list[str]:
    """What is wrong with a case's runs: a traceback, an internal error, an exit code other than 0, 1 or 2, or
    import and validate disagreeing."""
    problems = []
    for command, out in outs.items():
        if out["exception"] is not None:
            problems.append(f"{command}: exception {out['exception']}")
        if "Traceback" in out["output"]:
            problems.append(f"{command}: traceback")
        if "internal error" in out["output"]:
            problems.append(f"{command}: internal error")
        if out["exit"] not in (0, 1, 2):
            problems.append(f"{command}: exit {out['exit']}")
    imp, val = outs["import"], outs["validate"]
    if imp["exit"] != val["exit"]:
        problems.append(f"import exit {imp['exit']} but validate exit {val['exit']}")
    elif imp["errors"] != val["errors"]:
        problems.append(f"errors differ: import only {sorted(imp['errors'] - val['errors'])[:3]}, "
                        f"validate only {sorted(val['errors'] - imp['errors'])[:3]}")  # fmt: skip
    return problems


def _run_seeds(seeds: range) -> tuple[Counter, Counter, list[dict]]:
    """Run the cases of ``seeds`` in a temporary folder of their own: (exit-code pairs, mutations, failures)."""
    from tkitrack.schemas.storage import make_engine, upgrade

    exits, kinds, failures = Counter(), Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        template = root / "template.db"
        engine = make_engine(f"sqlite:///{template}")
        upgrade(engine)
        engine.dispose()
        for seed in seeds:
            case = root / "case"
            shutil.rmtree(case, ignore_errors=True)
            kind = make_case(case, seed)
            outs = run_case(case, template, root)
            kinds[kind] += 1
            exits[(outs["import"]["exit"], outs["validate"]["exit"])] += 1
            problems = check_case(outs)
            if problems:
                failures.append({"seed": seed, "mutation": kind, "problems": problems})
    return exits, kinds, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0, help="first case seed")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--json", type=Path, help="write the summary here too")
    opts = parser.parse_args(argv)
    started = time.perf_counter()
    seeds = range(opts.seed, opts.seed + opts.cases)
    parts = [seeds[i :: opts.jobs] for i in range(opts.jobs)]
    if opts.jobs == 1:
        results = [_run_seeds(seeds)]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(opts.jobs) as pool:
            results = list(pool.map(_run_seeds, parts))
    exits, kinds, failures = Counter(), Counter(), []
    for e, k, f in results:
        exits += e
        kinds += k
        failures += f
    failures.sort(key=lambda f: f["seed"])
    summary = {
        "cases": opts.cases, "runs": 2 * opts.cases, "seconds": round(time.perf_counter() - started, 1),
        "mutations": dict(sorted(kinds.items())),
        "exit_codes_import_validate": {f"{a}/{b}": n for (a, b), n in sorted(exits.items())},
        "tracebacks": sum("traceback" in " ".join(f["problems"]) for f in failures),
        "internal_errors": sum("internal error" in " ".join(f["problems"]) for f in failures),
        "disagreements": sum(any("differ" in p or "but validate" in p for p in f["problems"]) for f in failures),
        "failures": len(failures),
        "first_failures": failures[:50],
    }  # fmt: skip
    text = json.dumps(summary, indent=2, default=str)
    print(text)
    if opts.json:
        opts.json.write_text(text + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
