"""The notebooks run top to bottom (with a small budget); the first cell installs when needed."""

import ast
import importlib
import os
import sys

import pytest
from xla_flags import flags

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "notebooks", "01_es_cartpole.ipynb")
ALPHAZERO = os.path.join(ROOT, "notebooks", "02_alphazero_tictactoe.ipynb")  # run in test_alphazero_notebook.py
PBT = os.path.join(ROOT, "notebooks", "03_pbt.ipynb")  # run in test_pbt_notebook.py
PLANNING = os.path.join(ROOT, "notebooks", "04_planning.ipynb")  # run in test_planning_notebook.py
CEM_TETRIS = os.path.join(ROOT, "notebooks", "05_cem_tetris.ipynb")  # run in test_cem_notebook.py


@pytest.mark.parametrize("path", [NOTEBOOK, ALPHAZERO, PBT, PLANNING, CEM_TETRIS])
def test_the_install_cell_installs_unless_a_real_package_is_there(tmp_path, monkeypatch, path):
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.cell_type == "code" and "pip install" in cell.source  # Colab-ready
    # Run the cell's imports and definitions only (not the pip install itself).
    tree = ast.parse(cell.source)
    tree.body = [n for n in tree.body if isinstance(n, (ast.Import, ast.FunctionDef))]
    scope = {}
    exec(compile(tree, "cell-0", "exec"), scope)
    needs_install = scope["needs_install"]

    # Like the repository at /content/evojax_rl with /content on sys.path: a folder without
    # __init__.py, which imports as an empty namespace package.
    (tmp_path / "ejr_nb_probe").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    importlib.invalidate_caches()
    assert needs_install("ejr_nb_probe")
    assert needs_install("ejr_nb_absent")
    (tmp_path / "ejr_nb_probe" / "__init__.py").write_text("")  # a regular package
    importlib.invalidate_caches()
    assert not needs_install("ejr_nb_probe")


def execute(path: str, tmp_path, monkeypatch, **env) -> tuple[list, str]:
    """Run the notebook at ``path`` with the environment ``env``: its code cells and their
    text output; no cell may raise."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The kernel runs on one device, as a user's would (the tests' forced host devices would split
    # every program over 4 devices sharing 2 cores), with the tests' compile flags (xla_flags.py).
    monkeypatch.setenv("XLA_FLAGS", flags())
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in code for o in c.get("outputs", [])
    )
    assert "error" not in {o.get("output_type") for c in code for o in c.get("outputs", [])}
    return code, outputs


@pytest.mark.slow
def test_es_cartpole_notebook_runs(tmp_path, monkeypatch):
    code, outputs = execute(NOTEBOOK, tmp_path, monkeypatch, EVOJAX_NB_GENERATIONS="10")
    assert "final mean-policy return:" in outputs
    # The learning curve is drawn after train(): the library left the inline backend alone.
    plot = next(c for c in code if "plt.show()" in c.source)
    assert any("image/png" in o.get("data", {}) for o in plot.outputs)

