"""The planning notebook runs top to bottom with a small budget (in a file of its own, so that
the collector can start it early; its install cell is checked in test_notebook.py)."""

import pytest
from test_notebook import PLANNING, execute

pytest.importorskip("nbclient")


def test_planning_notebook_runs(tmp_path, monkeypatch):
    code, outputs = execute(PLANNING, tmp_path, monkeypatch, EVOJAX_NB_EPISODES="2",
                            EVOJAX_NB_POPSIZES="8")
    assert "mean return" in outputs and "ms per control step" in outputs
    plots = [c for c in code if "plt.show()" in c.source]
    assert len(plots) == 2
    assert all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in plots)
