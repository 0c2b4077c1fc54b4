"""Every strategy with settings that solve the contract problems; the contract suite runs all.

Each entry: name -> (factory, kwargs, max_generations for a 100x improvement on 10-D sphere).
"""

from evojax_rl import strategies as S

STRATEGIES = {
    "open_es": (S.open_es, dict(popsize=32, sigma=0.1, learning_rate=0.05), 400),
    "cma_es": (S.cma_es, dict(sigma=0.5), 300),
    "sep_cma_es": (S.sep_cma_es, dict(sigma=0.5), 300),
}
