"""The newcomer path: the README's command-line block runs, and `make run` serves."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

# Slow (deselected by `make test-fast`): the README's command-line fits (fresh processes) and `make run`.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _block(title, lang):
    text = README.read_text()
    start = text.index(f"## {title}")
    section = text[start:text.find("\n## ", start + 1)]
    (block,) = re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)
    return block


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def test_readme_command_line_block_runs(tmp_path):
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", _block("On the command line", "sh")],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "hdi_94%_low" in done.stdout and "divergences: 0," in done.stdout
    assert "sampling [" in done.stderr                     # the progress bar
    # the examples run clean: no sampler warning, no Python warning
    assert "warning" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr


def test_quickstart_make_run_serves(tmp_path):
    assert "make run" in _block("Quickstart", "console")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(tmp_path / "make_run.log", "w+")
    # `make run` against the venv running pytest, its install stamp taken as up to date (-o):
    # a test never runs pip, even when pyproject.toml is newer than the stamp.
    venv = Path(sys.executable).parent.parent
    proc = subprocess.Popen(["make", "-o", f"{venv}/.installed", "run", f"VENV={venv}",
                             f"PORT={port}", f"DATA_DIR={tmp_path / 'data'}"],
                            cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "make_run.log").read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["status"] == "ok":
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("make run did not serve /health within 300 s")
        fit = requests.post(f"http://127.0.0.1:{port}/v1/fits", timeout=30,
                            json={"dataset": "diabetes", "prior": "lasso", "alpha": 0.1,
                                  "method": "map"})
        assert fit.status_code == 201 and fit.json()["map"]["coef"][0] == 0.0
        printed = (tmp_path / "make_run.log").read_text()
        assert f"http://127.0.0.1:{port}" in printed and "curl" in printed
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
