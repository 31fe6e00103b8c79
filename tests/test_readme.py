"""The README's commands run verbatim from an empty folder and print what the README says they print.

Every fenced block marked ``console`` is a session: lines starting with ``$ `` are commands, the lines after one
(up to the next command or the end of the block) are its output, stdout and stderr merged as a terminal shows
them. All blocks run in order in ONE empty folder, as a reader would after the quick start (``pip install .``).
In the expected output, a line that is exactly ``...`` stands for any number of lines, and ``<...>`` inside a
line for any text on that line (used only where the output cannot be fixed: timestamps, hashes, timings).

Run ``python tests/test_readme.py --update [FOLDER]`` to rewrite the README's outputs from a real run (then read
the diff: the README must say what the tool prints, and the tool must print what a reader needs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)
#: The terminal the README's outputs were taken in (rich wraps tables to its width).
COLUMNS = "120"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def parse(text: str) -> list[Step]:
    """The README's console sessions as commands with their expected output, in order."""
    steps: list[Step] = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:]))
            elif steps:
                steps[-1].expected.append(line.rstrip())
            else:
                raise ValueError(f"output before any command in a console block: {line!r}")
    return steps


def _line_matches(pattern: str, line: str) -> bool:
    if "<...>" not in pattern:
        return pattern == line
    regex = ".*".join(re.escape(part) for part in pattern.split("<...>"))
    return re.fullmatch(regex, line) is not None


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` lines fit ``expected``, where a ``...`` line takes any number of lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and _line_matches(head, actual[0]) and matches(rest, actual[1:])


def environment() -> dict[str, str]:
    """A reader's shell after ``pip install .``: this interpreter's ``tkitrack`` first on PATH, no tkitrack settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TKITRACK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = COLUMNS
    env["TERM"] = "dumb"
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    return env


def run(step: Step, folder: Path) -> tuple[int, list[str]]:
    done = subprocess.run(
        ["bash", "-c", step.command],
        cwd=folder,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=900,
        check=False,
    )
    return done.returncode, [line.rstrip() for line in done.stdout.splitlines()]


def test_readme_has_a_session_that_starts_with_the_demo():
    steps = parse(README.read_text(encoding="utf-8"))
    assert steps, "the README has no console blocks"
    assert steps[0].command == "tkitrack demo"
    assert len(steps) >= 20, "the README's sessions should show every user's main commands"


def test_parse_and_match_rules():
    steps = parse("x\n```console\n$ a\none\n...\n$ b\n```\n")
    assert [(s.command, s.expected) for s in steps] == [("a", ["one", "..."]), ("b", [])]
    assert matches(["one", "..."], ["one", "two", "three"]) and matches(["one", "..."], ["one"])
    assert not matches(["one"], ["one", "two"]) and not matches(["one", "two"], ["one"])
    assert matches(["a <...> c"], ["a b b c"]) and not matches(["a <...> c"], ["a b d"])
    assert not matches(["a"], ["a."])  # no wildcard without <...>


@pytest.mark.slow
def test_every_readme_command_runs_verbatim_and_prints_what_the_readme_says(tmp_path):
    steps = parse(README.read_text(encoding="utf-8"))
    for number, step in enumerate(steps, 1):
        code, lines = run(step, tmp_path)
        shown = "\n".join(lines)
        assert matches(step.expected, lines), (
            f"README command {number} `{step.command}` (exit {code}) printed:\n{shown}\n"
            f"--- but the README says:\n" + "\n".join(step.expected)
        )


def update(folder: Path) -> None:
    """Rewrite every console block's outputs from a real run in ``folder`` (outputs that still match are kept)."""
    text = README.read_text(encoding="utf-8")
    steps = iter(parse(text))

    def block(match: re.Match) -> str:
        lines: list[str] = []
        for line in match.group(1).splitlines():
            if not line.startswith("$ "):
                continue
            step = next(steps)
            code, got = run(step, folder)
            print(f"[exit {code}] $ {step.command}", file=sys.stderr)
            keep = step.expected if step.expected and matches(step.expected, got) else got
            if keep is got and any("<...>" in e or e == "..." for e in step.expected):
                print(
                    "   ! its wildcard lines no longer match: replaced by the real output, put them back",
                    file=sys.stderr,
                )
            lines += [line, *keep]
        return "```console\n" + "".join(f"{line}\n" for line in lines) + "```"

    README.write_text(FENCE.sub(block, text), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--update":
        target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="tkitrack-readme-"))
        target.mkdir(parents=True, exist_ok=True)
        if any(target.iterdir()):
            sys.exit(f"{target} is not empty")
        update(target)
        print(f"README outputs rewritten from a run in {target}", file=sys.stderr)
    else:
        sys.exit("usage: python tests/test_readme.py --update [EMPTY_FOLDER]")
