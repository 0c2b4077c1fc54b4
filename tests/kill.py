"""Start a training process and SIGKILL it right after its first checkpoint appears."""

import os
import signal
import subprocess
import time


def kill_after_first_checkpoint(argv: list, out, env: dict) -> int:
    """Run ``argv`` (a process that trains into the run directory ``out``), SIGKILL it as soon as
    ``out/checkpoints/gen_*`` exists, check that it was killed before the end (no
    ``result.json``), and return the newest checkpoint's step."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    ckpts = out / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if ckpts.exists() and any(n.startswith("gen_") for n in os.listdir(ckpts)):
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "result.json").exists()  # killed before the end
    return max(int(n[4:]) for n in os.listdir(ckpts) if n.startswith("gen_"))
