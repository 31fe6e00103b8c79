"""Run the benchmark suite: ``python -m bench [--quick] [--only 1,3] [--no-pg] [--json FILE]`` from the repo root.

Prints the machine, then one table: for each figure the project's time, the baseline's time measured in the
same run, their ratio, the target and how many repeats the medians are over.
"""

from __future__ import annotations

import argparse
import json
import time

from bench import audit_verify, browser, commands, derive, importing, report, startup, swimmer, validation, web
from bench._harness import format_table, machine

#: figure -> (full run, --quick run); each a callable taking the parsed options.
FIGURES = {
    1: (lambda o: startup.run(repeats=21, group_repeats=7), lambda o: startup.run(repeats=7, group_repeats=3)),
    2: (lambda o: validation.run(1_000_000, repeats=5), lambda o: validation.run(100_000, repeats=3)),
    3: (
        lambda o: importing.run(1_000_000, repeats=3, pg_url=o.pg_url, pg_repeats=1),
        lambda o: importing.run(100_000, repeats=1, pg_url=o.pg_url, pg_repeats=1),
    ),
    4: (lambda o: derive.run((1_000, 10_000, 100_000), repeats=3), lambda o: derive.run((1_000, 10_000), repeats=2)),
    5: (lambda o: swimmer.run(10_000, repeats=5), lambda o: swimmer.run(2_000, repeats=3, small=500)),
    6: (lambda o: report.run(1_000, repeats=3), lambda o: report.run(200, repeats=2)),
    7: (lambda o: web.run(10_000, repeats=21), lambda o: web.run(2_000, repeats=5)),
    8: (lambda o: audit_verify.run(1_000_000), lambda o: audit_verify.run(100_000)),
    9: (lambda o: commands.run((1_000, 10_000, 100_000)), lambda o: commands.run((200, 1_000))),
    10: (lambda o: browser.run(10_000, repeats=3), lambda o: browser.run(1_000, repeats=2)),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated figure numbers (1-10), default all")
    parser.add_argument("--pg-url", default=importing.PG_URL,
                        help="PostgreSQL server for figure 3 (a scratch schema is created and dropped)")  # fmt: skip
    parser.add_argument("--no-pg", dest="pg_url", action="store_const", const=None, help="skip PostgreSQL")
    parser.add_argument("--json", help="also write the results (and the machine) to this JSON file")
    opts = parser.parse_args(argv)
    chosen = [int(x) for x in opts.only.split(",") if x.strip()] or list(FIGURES)
    info = machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    results = []
    started = time.perf_counter()
    for number in chosen:
        t0 = time.perf_counter()
        found = FIGURES[number][1 if opts.quick else 0](opts)
        results += found
        print(format_table(found).split("\n", 2)[2], f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    print(f"\n{'quick run' if opts.quick else 'full run'} in {time.perf_counter() - started:.0f} s\n")
    print(format_table(results))
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump({"machine": info, "quick": opts.quick, "results": [r.as_dict() for r in results]}, fh, indent=2)


if __name__ == "__main__":
    main()
