"""The layers: the core (``bayesreg``) never imports the adapters (``service``: the HTTP API and
the command line), Flask or gunicorn."""

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "bayesreg"
ADAPTERS = ("service", "flask", "gunicorn", "werkzeug")


def _imported(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_no_core_module_imports_an_adapter():
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 10
    offending = [(path.name, name) for path in modules for name in _imported(path)
                 if name.split(".")[0] in ADAPTERS]
    assert offending == []


def test_importing_every_public_name_loads_no_adapter():
    code = ("import sys, bayesreg\n"
            "for name in bayesreg.__all__:\n"
            "    getattr(bayesreg, name)\n"
            "import bayesreg.client\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {ADAPTERS!r}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=CORE.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_the_public_names_are_exactly_the_lazy_ones():
    import bayesreg

    assert sorted(bayesreg.__all__) == sorted(bayesreg._WHERE)
    assert len(set(bayesreg.__all__)) == len(bayesreg.__all__)


ROOT = CORE.parent
MAX_LINES = 60


def _long_functions(path, root=ROOT):
    """``(path, name, lines)`` of each function (or method) longer than ``MAX_LINES``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [(str(path.relative_to(root)), node.name, node.end_lineno - node.lineno + 1)
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_LINES]


def test_every_function_of_the_core_and_the_adapters_fits_on_a_screen():
    modules = sorted(CORE.rglob("*.py")) + sorted((ROOT / "service").rglob("*.py"))
    assert {"bayesreg/dropout/regressor.py", "service/jobs.py", "service/cli.py"} <= {
        str(path.relative_to(ROOT)) for path in modules}
    assert [long for path in modules for long in _long_functions(path)] == []


def test_the_screen_check_sees_a_long_function(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text("def short():\n    pass\n\n\nclass C:\n"
                                   "    async def long(self):\n"
                                   + "".join("    " + line for line in body.splitlines(True)))
    assert _long_functions(tmp_path / "m.py", tmp_path) == [("m.py", "long", MAX_LINES + 1)]
