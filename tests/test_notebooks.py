"""Execute every analysis notebook top to bottom in a fresh kernel, at the small settings.

Each notebook reads ``BAYESREG_NOTEBOOK_FAST=1`` and shrinks its draws, simulations and epochs;
its own ``assert`` cells make the run fail when a result no longer shows what the prose says.
The committed notebooks (with full-settings outputs) are read, never written: the executed copy
is saved under pytest's tmp_path for inspection. The kernel is the ``python3`` kernelspec
launched with the interpreter running pytest (jupyter_client maps ``python`` to sys.executable),
so only the project's venv is needed.
"""

import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell


def test_notebooks_exist():
    assert len(NOTEBOOKS) == 7, [p.name for p in NOTEBOOKS]


def test_kernel_is_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.language == "python"
    km = KernelManager(kernel_name="python3")
    cmd = km.format_kernel_cmd()
    assert os.path.realpath(cmd[0]) == os.path.realpath(sys.executable), cmd


def test_sources_match_notebooks():
    """The committed .ipynb cells are what notebooks/_build.py makes of notebooks/src/*.py."""
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import _build
    finally:
        sys.path.pop(0)
    for path in NOTEBOOKS:
        built = _build.build(ROOT / "notebooks" / "src" / f"{path.stem}.py")
        committed = nbformat.read(path, as_version=4)
        assert [(c.cell_type, c.source) for c in committed.cells] == \
               [(c.cell_type, c.source) for c in built.cells], path.name


@pytest.mark.slow  # a kernel per notebook, about 40 s in all
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("BAYESREG_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # start from a clean copy
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(ROOT)}})
    t0 = time.perf_counter()
    try:
        client.execute()
    finally:
        nbformat.write(nb, tmp_path / path.name)
    print(f"{path.name}: {time.perf_counter() - t0:.1f} s (fast mode)")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.outputs)
    assert images >= 2, f"{path.name} produced {images} plots"
