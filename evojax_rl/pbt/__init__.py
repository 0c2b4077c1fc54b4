"""Population based training (Jaderberg et al. 2017, "Population Based Training of Neural
Networks", arXiv:1711.09846, Algorithm 1): a population of learners trained in one compiled
program, the worst copying the best every ``ready`` steps and exploring new hyperparameters.

Modules, one concept each: ``priors`` (where hyperparameters are drawn from), ``exploit``
(truncation selection), ``explore`` (perturb or resample), ``lineage`` (the record of copies,
``lineage.json`` and ``lineage.png``), ``population`` (the pure ``init``/``step`` over
``PBTState``), ``learners`` (OpenAI-ES on an environment; an optax regression), ``trainer``
(the run-driver trainer of kind ``"pbt"``).
"""

from evojax_rl.pbt.learners import ESMember, es_learner, regression_learner
from evojax_rl.pbt.lineage import Lineage
from evojax_rl.pbt.population import PBT, Learner, PBTState, pbt
from evojax_rl.pbt.priors import Prior, log_uniform, uniform

# The modules ``exploit`` and ``explore`` keep their names here (their functions are
# ``exploit.truncation`` and ``explore.explore``).
__all__ = ["PBT", "ESMember", "Learner", "Lineage", "PBTState", "Prior", "es_learner",
           "log_uniform", "pbt", "regression_learner", "uniform"]
