"""The trainers by kind: how the command line and ``runs.driver`` find a run's trainer.

Each kind is a module with ``Config`` (a dataclass with ``kind``, ``to_json``/``from_json`` and
``describe()``), ``program(config) -> runs.driver.Program``, ``headline(result) -> str`` (one
line on a finished run) and ``eval_record(config, evaluation) -> dict`` (what ``evojax-rl eval``
prints). A new trainer is one more line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

KINDS = {"es": "evojax_rl.trainer", "alphazero": "evojax_rl.alphazero.trainer",
         "pbt": "evojax_rl.pbt.trainer"}


def module(kind: str) -> ModuleType:
    """The module of the trainer ``kind``; an unknown kind raises ``ValueError``."""
    if kind not in KINDS:
        raise ValueError(f"unknown trainer kind {kind!r}; known kinds: {', '.join(KINDS)}.")
    return importlib.import_module(KINDS[kind])


def config_from_json(kind: str, d: dict):
    """The ``Config`` of trainer ``kind`` from its ``config.json`` form."""
    return module(kind).Config.from_json(d)


def program(config):
    """``config``'s trainer as a ``runs.driver.Program`` (validated and built; nothing compiled)."""
    return module(config.kind).program(config)


def headline(result: dict) -> str:
    """One line on a finished run, from its ``result.json`` contents."""
    return module(result["kind"]).headline(result)


def eval_record(config, evaluation: dict) -> dict:
    """What ``evojax-rl eval`` prints for ``evaluation`` (``Program.evaluate``'s dict)."""
    return module(config.kind).eval_record(config, evaluation)
