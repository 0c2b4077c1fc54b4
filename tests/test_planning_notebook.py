"""The planning notebook runs top to bottom with a small budget, and installs when needed (in a
file of its own, so that the collector can start it early)."""

import os

import pytest
import test_notebook
from test_notebook import ROOT, execute

pytest.importorskip("nbclient")

PLANNING = os.path.join(ROOT, "notebooks", "04_planning.ipynb")


def test_the_planning_notebooks_install_cell(tmp_path, monkeypatch):
    test_notebook.test_the_install_cell_installs_unless_a_real_package_is_there(
        tmp_path, monkeypatch, PLANNING)


def test_planning_notebook_runs(tmp_path, monkeypatch):
    code, outputs = execute(PLANNING, tmp_path, monkeypatch, EVOJAX_NB_EPISODES="2",
                            EVOJAX_NB_POPSIZES="8")
    assert "mean return" in outputs and "ms per control step" in outputs
    plots = [c for c in code if "plt.show()" in c.source]
    assert len(plots) == 2
    assert all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in plots)
