"""Build the analysis notebooks from their editable sources, and optionally run them.

Sources live in ``notebooks/src/NN_name.py`` as plain Python split into cells by
``# %%`` (code) and ``# %% [markdown]`` (markdown, every line prefixed ``# ``) markers.

    python notebooks/_build.py                 # write notebooks/*.ipynb without outputs
    python notebooks/_build.py --execute       # ... and run them at FULL settings, saving outputs
    python notebooks/_build.py 03 --execute    # only notebooks whose name starts with 03

Execution uses the ``python3`` kernel of the interpreter running this script, with the
repository root as working directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = HERE / "src"


def parse(text: str):
    """Split a source script into (kind, source) cells."""
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#")
                             for ln in body.splitlines())
        if body.strip():
            cells.append((kind, body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(src: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, body in parse(src.read_text()):
        cell = (nbformat.v4.new_markdown_cell(body) if kind == "markdown"
                else nbformat.v4.new_code_cell(body))
        nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):  # stable ids: clean diffs between builds
        cell["id"] = f"{src.stem[:2]}-{i:02d}"
    return nb


def execute(nb, fast: bool, timeout: int = 900):
    from nbclient import NotebookClient

    os.environ["BAYESREG_NOTEBOOK_FAST"] = "1" if fast else "0"
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="name prefixes to build (default: all)")
    parser.add_argument("--execute", action="store_true", help="run at full settings, keep outputs")
    parser.add_argument("--fast", action="store_true", help="with --execute: the small settings")
    args = parser.parse_args(argv)
    for src in sorted(SRC.glob("[0-9]*.py")):
        if args.only and not any(src.stem.startswith(p) for p in args.only):
            continue
        nb = build(src)
        out = HERE / f"{src.stem}.ipynb"
        if args.execute:
            t0 = time.perf_counter()
            try:
                execute(nb, fast=args.fast)
            except Exception:
                failed = Path("/tmp") / f"{src.stem}.failed.ipynb"
                nbformat.write(nb, failed)
                print(f"{out.name}: FAILED; partial outputs in {failed}", flush=True)
                raise
            print(f"{out.name}: executed in {time.perf_counter() - t0:.1f} s", flush=True)
        nbformat.write(nb, out)
        print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size / 1024:.0f} KiB)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
