"""Tests for tkitrack.cli.serve: `tkitrack serve` starts uvicorn on the database and refuses unsafe set-ups."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx2 as httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_and_stops(tkitrack_exe, sqlite_url):
    port = free_port()
    proc = subprocess.Popen([tkitrack_exe, "serve", "--db", sqlite_url, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.3)
        assert response.status_code == 200 and "Sign in" in response.text
        assert "server" not in response.headers  # uvicorn's banner is off
        assert httpx.get(f"http://127.0.0.1:{port}/patients", timeout=5).status_code == 303
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert f"at http://127.0.0.1:{port}/ (1 worker(s))" in out
    assert "no accounts yet: add one with `tkitrack user add NAME --role data_manager`" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [pytest.param(["--workers", "2"], "--workers must be 1 on SQLite", id="sqlite-workers"),
     pytest.param(["--ssl-certfile", "cert.pem"], "--ssl-certfile and --ssl-keyfile go together", id="tls-half")],
)  # fmt: skip
def test_serve_refuses_unsafe_options(run_cli, sqlite_url, args, says):
    result = run_cli(sqlite_url, "serve", *args)
    assert result.exit_code == 2 and says in result.stderr


def test_serve_needs_a_current_database(run_cli, tmp_path):
    result = run_cli(f"sqlite:///{tmp_path / 'none.db'}", "serve")
    assert result.exit_code == 1 and "run `tkitrack init`" in result.stderr
