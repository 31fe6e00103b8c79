"""Figure 1: start-up of ``tkitrack --help`` and ``tkitrack patient --help`` against a bare one-command typer app.

Both are run the same way: ``python SCRIPT ARGS`` in a fresh process (``SCRIPT`` is the installed ``tkitrack``
console script, or a temporary file holding the bare app), alternately, and the medians are compared.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._harness import Result, paired_times

__all__ = ["BARE_APP", "run"]

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

#: A bare app shaped like tkitrack: a root callback with a global option and a command group. Typer processes the
#: root's options (even absent ones) before a group's ``--help``, which is what ``tkitrack patient --help`` pays too.
BARE_GROUP_APP = '''\
import typer

app = typer.Typer(add_completion=False, no_args_is_help=True)
greet = typer.Typer(no_args_is_help=True)


@app.callback()
def options(db: str | None = typer.Option(None, "--db", help="Database URL")) -> None:
    """Global options."""


@greet.command()
def hello(name: str = typer.Option("world", help="Who to greet")) -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


app.add_typer(greet, name="greet")

if __name__ == "__main__":
    app()
'''

TARGET = 1.3


def _script() -> list[str]:
    """How to start tkitrack: its console script under this Python, else ``-m tkitrack.cli``."""
    found = shutil.which("tkitrack", path=str(Path(sys.executable).parent))
    return [found] if found else ["-m", "tkitrack.cli"]


def _runner(argv: list[str]):
    def run() -> None:
        subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return run


def run(repeats: int = 21) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        bare, group = Path(tmp) / "bare_typer_app.py", Path(tmp) / "bare_typer_group.py"
        bare.write_text(BARE_APP)
        group.write_text(BARE_GROUP_APP)
        baseline = _runner([str(bare), "--help"])
        results = []
        for args in (["--help"], ["patient", "--help"]):
            project = _runner([*_script(), *args])
            project(), baseline()  # warm the file cache and write the .pyc files
            p, b = paired_times(project, baseline, repeats)
            results.append(Result("1 start-up", f"tkitrack {' '.join(args)} vs one-command app --help", p, b, TARGET,
                                  repeats))  # fmt: skip
        grouped = _runner([str(group), "greet", "--help"])
        grouped()
        p, b = paired_times(project, grouped, repeats)
        results.append(Result("1 start-up", "tkitrack patient --help vs group app greet --help (reference)", p, b,
                              None, repeats))  # fmt: skip
        return results
