"""Helpers shared by the benchmark scripts: machine description and JSON output."""

import json
import os
import platform

import jax


def machine() -> dict:
    """What the figures were measured on."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "device": str(jax.devices()[0].device_kind),
        "backend": jax.default_backend(),
    }


def emit(result: dict) -> None:
    """Print the result as the last line: one JSON object."""
    print(json.dumps(result, sort_keys=True))
