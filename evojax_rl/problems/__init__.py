"""Problems: black-box test functions (to minimize: pass ``-f``) and environment adapters.

``sphere``, ``rosenbrock`` etc. are the classic textbook forms (``problems.textbook``);
``problems.bbob`` holds COCO's 24 noiseless BBOB functions with COCO's instances.
"""

from evojax_rl.problems import bbob, textbook  # noqa: F401
from evojax_rl.problems.textbook import (  # noqa: F401
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
