"""The AlphaZero notebook runs top to bottom with a small budget (in a file of its own, so that
the test collector starts this long test early instead of leaving it for the end)."""

import pytest
from test_notebook import ALPHAZERO, execute

pytest.importorskip("nbclient")
pytest.importorskip("pgx")


@pytest.mark.slow
def test_alphazero_notebook_runs(tmp_path, monkeypatch):
    code, outputs = execute(ALPHAZERO, tmp_path, monkeypatch, EVOJAX_NB_ITERATIONS="1")
    assert "move: 2" in outputs  # the search alone finds the immediate win
    assert "lines lost to perfect play:" in outputs
    plot = next(c for c in code if "plt.show()" in c.source)
    assert any("image/png" in o.get("data", {}) for o in plot.outputs)
