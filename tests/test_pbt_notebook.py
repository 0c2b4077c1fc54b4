"""The PBT notebook runs top to bottom with a small budget (Pendulum skipped), and its first
cell installs like the other notebooks'."""

import os

import pytest
from test_notebook import ROOT, execute

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

PBT = os.path.join(ROOT, "notebooks", "03_pbt.ipynb")


def test_the_install_cell_is_the_other_notebooks():
    first = nbformat.read(PBT, as_version=4).cells[0]
    other = nbformat.read(os.path.join(ROOT, "notebooks", "01_es_cartpole.ipynb"), as_version=4).cells[0]
    assert first.cell_type == "code" and first.source == other.source


@pytest.mark.slow
def test_pbt_notebook_runs(tmp_path, monkeypatch):
    code, outputs = execute(PBT, tmp_path, monkeypatch, EVOJAX_NB_STEPS="20",
                            EVOJAX_NB_PENDULUM_STEPS="0")
    assert "final fresh score:" in outputs and "copies; the first:" in outputs
    assert "PBT best:" in outputs
    curve = next(c for c in code if "plt.show()" in c.source)
    assert any("image/png" in o.get("data", {}) for o in curve.outputs)
    lineage = next(c for c in code if "lineage.png" in c.source and "display" in c.source)
    assert any("image/png" in o.get("data", {}) for o in lineage.outputs)
