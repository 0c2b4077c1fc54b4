"""The notebooks run top to bottom (with a small budget)."""

import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_es_cartpole_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOJAX_NB_GENERATIONS", "10")
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(os.path.join(ROOT, "notebooks", "01_es_cartpole.ipynb"), as_version=4)
    assert nb.cells[0].cell_type == "code" and "pip install" in nb.cells[0].source  # Colab-ready
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "final mean-policy return:" in outputs
    assert "error" not in {o.get("output_type") for c in nb.cells for o in c.get("outputs", [])}
