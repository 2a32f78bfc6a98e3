"""The README's HTTP examples, run as written against a live server (only the base URL changes)."""

import json
import re
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title):
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end]


# The README shows `curl -s`; here every curl also gets --fail-with-body, so an HTTP error
# fails the script (and so the test) and its problem document shows in the failure.
STRICT_CURL = 'curl() { command curl --fail-with-body "$@"; }\n'


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", _section("Over HTTP"), flags=re.S)


@pytest.mark.slow  # the real server
def test_readme_curl_examples_run(server, tmp_path):
    block = _blocks("sh")[0]
    assert block.startswith("B=http://127.0.0.1:8000\n")
    script = block.replace("B=http://127.0.0.1:8000", f"B={server.base}", 1)
    assert all(line.startswith("curl -s ") for line in script.splitlines() if line.startswith("curl"))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", STRICT_CURL + script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "openapi.json").read_text())["openapi"].startswith("3.1")


@pytest.mark.slow  # the real server
def test_readme_error_example_shows_the_problem_document(server, tmp_path):
    example = _blocks("sh")[1]
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", f"B={server.base}\n{example}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    body, status = done.stdout.rstrip("\n").rsplit("\n", 1)
    assert status == "422"
    (shown,) = _blocks("json")
    assert json.loads(body) == json.loads(shown)


def test_readme_problem_document_is_what_the_service_says(client):
    (example,) = _blocks("json")
    reply = client.post("/v1/fits", json={"dataset": "diabetes", "alpha": -1, "method": "map"})
    assert reply.status_code == 422
    assert reply.get_json() == json.loads(example)


@pytest.mark.slow  # the real server
def test_readme_python_client_example_runs(server):
    (block,) = _blocks("py")
    assert 'Client("http://127.0.0.1:8000")' in block
    code = block.replace("http://127.0.0.1:8000", server.base, 1)
    exec(compile(code, "README.md Over HTTP py block", "exec"), {"__name__": "__readme__"})
