"""The PBT notebook runs top to bottom with a small budget, Pendulum skipped (in a file of its
own, so that the collector can start it early; its install cell is checked in test_notebook.py)."""

import pytest
from test_notebook import PBT, execute

pytest.importorskip("nbclient")


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
