"""The CEM and Tetris notebook runs top to bottom with a small budget (in a file of its own, so
that the collector can start it early; its install cell is checked in test_notebook.py)."""

import pytest
from test_notebook import CEM_TETRIS, execute

pytest.importorskip("nbclient")


def test_cem_tetris_notebook_runs(tmp_path, monkeypatch):
    code, outputs = execute(CEM_TETRIS, tmp_path, monkeypatch, EVOJAX_NB_TABULAR_ITERATIONS="4",
                            EVOJAX_NB_NEURAL_ITERATIONS="2", EVOJAX_NB_TETRIS_GENERATIONS="2",
                            EVOJAX_NB_TETRIS_CAP="50", EVOJAX_NB_TETRIS_GAMES="2")
    assert "exact expected return" in outputs and "Taxi after 4 iterations" in outputs
    assert "greedy policy on 100 fresh episodes" in outputs
    assert all(f"{name:10s} noise: mean" in outputs for name in ("none", "constant", "decreasing"))
    plots = [c for c in code if "plt.show()" in c.source]
    assert len(plots) == 3
    assert all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in plots)
