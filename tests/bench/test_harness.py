"""bench/_harness.py's child measurement: the peak memory reported for a command is the command's own, not the
benchmark process's (Linux hands a forked child its parent's high-water mark; a child of a 5 GiB benchmark once
reported 5.01 GiB for every command it ran)."""

from __future__ import annotations

import sys

from bench._harness import child_usage

_SMALL = [sys.executable, "-c", "pass"]
_BIG = [sys.executable, "-c", "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"]


def test_a_small_command_is_not_charged_this_process_s_peak():
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"y" * len(ballast[::4096])  # touched: resident, so this process's peak is above 400 MiB
    small = child_usage(_SMALL)
    big = child_usage(_BIG)
    del ballast
    assert small.returncode == 0 == big.returncode
    assert small.peak_bytes < 100 * 2**20  # a bare interpreter: about 10 MiB
    assert 300 * 2**20 < big.peak_bytes < 400 * 2**20  # the command's own 300 MiB, not this process's 400+
    assert big.cpu_s >= small.cpu_s > 0


def test_the_exit_status_is_the_command_s():
    assert child_usage([sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3
