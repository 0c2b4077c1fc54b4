"""The run machinery every trainer shares: the run directory and its log (``log``), atomic
checkpoints (``checkpoint``), and the chunk driver that runs a trainer's compiled chunks with
progress, metrics, TensorBoard, the curve PNG, checkpoints, resume and ``result.json``
(``driver``). A trainer supplies only its own loop, as a ``driver.Program``."""
