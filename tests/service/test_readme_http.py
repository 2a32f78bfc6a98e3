"""The README's HTTP examples, run as written against a live server (only the base URL changes)."""

import json
import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title):
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def test_readme_curl_examples_run(server, tmp_path):
    (block,) = re.findall(r"```sh\n(.*?)```", _section("Over HTTP"), flags=re.S)
    assert block.startswith("B=http://127.0.0.1:8000\n")
    script = block.replace("B=http://127.0.0.1:8000", f"B={server.base}", 1)
    # every curl has -f: an HTTP error fails the script, and so the test
    assert all("curl -sf" in line for line in script.splitlines() if line.startswith("curl"))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "openapi.json").read_text())["openapi"].startswith("3.1")


def test_readme_problem_document_is_what_the_service_says(client):
    (example,) = re.findall(r"```json\n(.*?)```", _section("Over HTTP"), flags=re.S)
    reply = client.post("/v1/fits", json={"dataset": "diabetes", "alpha": -1, "method": "map"})
    assert reply.status_code == 422
    assert reply.get_json() == json.loads(example)
