"""Problems: black-box test functions (to minimize: pass ``-f``) and environment adapters."""

from evojax_rl.problems.bbob import (  # noqa: F401
    ackley,
    ellipsoid,
    rastrigin,
    rosenbrock,
    rotated,
    shifted,
    sphere,
)
from evojax_rl.problems.env import (  # noqa: F401
    Box,
    Discrete,
    Env,
    brax_names,
    check_env,
    gymnax_names,
    make,
    register,
)
