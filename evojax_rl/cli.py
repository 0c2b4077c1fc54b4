"""The ``evojax-rl`` command.

    evojax-rl presets
    evojax-rl train PRESET [--seed N] [--generations N | --iterations N] [--popsize N]
                           [--out DIR]
                           [--checkpoint-every N] [--resume | --overwrite] [--no-progress]
                           [--coordinator HOST:PORT --num-processes N --process-id I]
    evojax-rl eval DIR [--episodes N]
    evojax-rl play DIR [--simulations N] [--first human|agent]
    evojax-rl plan ENV [--strategy cem|cma_es] [--horizon H] [--iterations N] [--popsize N]
                       [--sigma S] [--episodes N] [--seed N] [--max-steps N] [--no-progress]

Bad input gives one sentence on stderr and exit status 2, with nothing written. Options must be
spelled out (no abbreviations: ``--pop 8`` is refused, not read as ``--popsize 8``).

Many processes: ``train`` with ``--coordinator/--num-processes/--process-id``, or with none of
them inside a cluster job that JAX can join by itself (``distributed.cluster_detected``: Slurm,
Open MPI, TPU pod hosts, ``JAX_COORDINATOR_ADDRESS``; ``--distributed`` forces it). Each
process then runs the training as a child it watches: when the run loses a process (JAX stops
the others within the heartbeat timeout), the child's fatal log is replaced by one sentence and
exit status 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading

EXIT_BAD_INPUT = 2
EXIT_PEER_LOST = 3
_WORKER = "EVOJAX_RL_WORKER"  # set in the supervised child that does the work
# What a process prints (JAX's coordination service, gloo, our worker) when the run lost a peer.
_PEER_LOST = ("JAX distributed service", "coordination service", "coordination_service", "heartbeat",
              "Gloo", "evojax-rl: peer lost")


class UsageError(ValueError):
    """Bad input from the command line."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors (unknown or malformed options) as one line, in our format, exit
    status 2; subparsers inherit it."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"evojax-rl: error: {message} (see '{self.prog} --help').\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="evojax-rl", description="Evolution strategies and AlphaZero on JAX environments and games.",
                 allow_abbrev=False)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("presets", help="list the named configurations", allow_abbrev=False)
    t = sub.add_parser("train", help="train a preset", allow_abbrev=False)
    t.add_argument("preset")
    t.add_argument("--seed", type=int, default=None, help="PRNG seed (default 0)")
    t.add_argument("--generations", type=int, default=None,
                   help="override an ES preset's generations")
    t.add_argument("--iterations", type=int, default=None,
                   help="override an AlphaZero preset's iterations (self-play, then training)")
    t.add_argument("--steps", type=int, default=None,
                   help="override a PBT preset's steps (one step of every member)")
    t.add_argument("--popsize", type=int, default=None, help="override an ES preset's population size")
    t.add_argument("--out", default=None,
                   help="run directory (default runs/PRESET-sSEED, numbered -2, -3, ... if taken; "
                        "with --resume the newest of those)")
    t.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="checkpoint every N generations (default: at the end only)")
    t.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    t.add_argument("--overwrite", action="store_true",
                   help="delete the run in --out, if any, and start again (without it a directory "
                        "holding a run is refused; one whose run stopped before its first "
                        "checkpoint is started afresh)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="many processes: address of process 0 (with --num-processes and "
                        "--process-id)")
    t.add_argument("--num-processes", type=int, default=None, metavar="N",
                   help="many processes: how many take part")
    t.add_argument("--process-id", type=int, default=None, metavar="I",
                   help="many processes: this one's index, 0 to N-1")
    t.add_argument("--distributed", action="store_true",
                   help="join a multi-process run that JAX detects by itself (implied inside "
                        "Slurm, Open MPI and TPU pod jobs of more than one process)")
    t.add_argument("--heartbeat-timeout", type=int, default=30, metavar="S",
                   help="many processes: seconds without news from a process before the others "
                        "stop (default 30)")
    e = sub.add_parser("eval", help="evaluate a run's newest checkpoint", allow_abbrev=False)
    e.add_argument("dir")
    e.add_argument("--episodes", type=int, default=None,
                   help="ES runs: fresh episodes (default: the run's eval_episodes)")
    p = sub.add_parser("play", help="play against an AlphaZero run's agent in the terminal",
                       allow_abbrev=False)
    p.add_argument("dir", help="the run directory (its newest checkpoint is the agent)")
    p.add_argument("--simulations", type=int, default=None,
                   help="the agent's search simulations per move (default: the run's)")
    p.add_argument("--first", choices=("human", "agent"), default="human",
                   help="who moves first (default: you)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the agent's search")
    pl = sub.add_parser("plan", help="model-predictive control by evolution (CEM or CMA-ES "
                        "plans actions through the environment's own dynamics)", allow_abbrev=False)
    pl.add_argument("env", help="an environment name (gymnax id, brax/NAME, or registered)")
    pl.add_argument("--strategy", default="cem", help="cem or cma_es (default cem)")
    pl.add_argument("--horizon", type=int, default=None,
                    help="actions planned ahead (default: the environment's setting)")
    pl.add_argument("--iterations", type=int, default=None,
                    help="generations of the strategy per control step")
    pl.add_argument("--popsize", type=int, default=None, help="candidate plans per generation")
    pl.add_argument("--sigma", type=float, default=None,
                    help="initial spread of the plans (default 0.5 for Box actions scaled to "
                         "[-1, 1], 1.0 for discrete logits)")
    pl.add_argument("--episodes", type=int, default=16, help="episodes, planned as one batch "
                    "(default 16)")
    pl.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    pl.add_argument("--max-steps", type=int, default=None,
                    help="control steps per episode (default: the environment's limit)")
    pl.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap


def _cmd_presets() -> int:
    from evojax_rl.presets import PRESETS

    for name, p in PRESETS.items():
        print(f"{name}\n    {p.description}\n    {p.summary}\n    expected: {p.expected}")
    return 0


def _read_run(out: str) -> dict:
    from evojax_rl.runs import driver

    try:
        return driver.read_run(out)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _default_out(preset: str, seed: int, resume: bool) -> str:
    """``runs/PRESET-sSEED``, numbered ``-2``, ``-3``, ... so that a second run never collides;
    with ``--resume``, the newest of them that holds a run."""
    base = os.path.join("runs", f"{preset}-s{seed}")
    taken = []
    for i in range(1, 10_000):
        path = base if i == 1 else f"{base}-{i}"
        if not os.path.exists(path):
            return (taken[-1] if taken else path) if resume else path
        taken.append(path)
    raise UsageError(f"too many runs named {base!r}*; pass --out.")


def _check_int(name: str, value: int | None, minimum: int = 1, maximum: int | None = None) -> None:
    """Check an optional integer option (None: not given)."""
    from evojax_rl.validation import check_int

    if value is not None:
        check_int(name, value, minimum, maximum)


# The train options that override a field of the preset's configuration, when it has that field.
OVERRIDES = ("generations", "iterations", "steps", "popsize", "checkpoint_every")


def _overrides(args, config, preset: str) -> dict:
    """The options that override fields of ``config``; an option the trainer does not have is
    refused (``--popsize`` on an AlphaZero preset, ``--iterations`` on an ES one)."""
    fields = {f.name for f in dataclasses.fields(config)}
    out = {}
    for option in OVERRIDES:
        value = getattr(args, option)
        if value is None:
            continue
        if option not in fields:
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} does not apply to {preset!r}, a preset of kind "
                             f"{config.kind!r}; its options are {', '.join(_options_of(fields))}.")
        out[option] = value
    return out


def _options_of(fields) -> list[str]:
    return ["--" + o.replace("_", "-") for o in OVERRIDES if o in fields]


def _wants_distributed(args) -> bool:
    """Whether ``train`` joins a multi-process run (flags checked; nothing initialized)."""
    from evojax_rl import distributed

    given = [v is not None for v in (args.coordinator, args.num_processes, args.process_id)]
    if any(given) and not all(given):
        raise UsageError("--coordinator, --num-processes and --process-id go together; give all "
                         "three, or none inside a cluster job that JAX detects.")
    if args.coordinator is not None:
        distributed.check_address("--coordinator", args.coordinator)
    _check_int("--num-processes", args.num_processes)
    if args.num_processes is not None:
        _check_int("--process-id", args.process_id, 0, args.num_processes - 1)
    _check_int("--heartbeat-timeout", args.heartbeat_timeout)
    return all(given) or args.distributed or distributed.cluster_detected()


def _die_with_parent() -> None:
    """In the supervised child: be killed when the supervising process dies (Linux)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not Linux (no glibc): the child outlives a killed parent
        return
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _supervise(argv: list[str], args) -> int:
    """Run this ``train`` command again as a child process and watch it.

    The child's output passes through until it reports a lost peer (JAX's coordination service
    or the collectives failing, see ``_PEER_LOST``); from there its log (a fatal error and a
    stack trace) is held back, and if it then fails, one sentence says what happened instead.
    """
    env = dict(os.environ, **{_WORKER: "1"})
    child = subprocess.Popen([sys.executable, "-m", "evojax_rl.cli", *argv], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             errors="replace",
                             preexec_fn=_die_with_parent if os.name == "posix" else None)

    def forward_stdout():  # without gloo's "[Gloo] Rank 0 is connected to 3 peer ranks" lines
        for line in child.stdout:
            if not line.startswith("[Gloo]"):
                sys.stdout.write(line)
                sys.stdout.flush()

    stdout = threading.Thread(target=forward_stdout, daemon=True)
    stdout.start()
    lost = False
    try:
        for line in child.stderr:
            lost = lost or any(marker in line for marker in _PEER_LOST)
            if not lost:
                sys.stderr.write(line)
                sys.stderr.flush()
        code = child.wait()
    except KeyboardInterrupt:
        code = child.wait()
    stdout.join()
    if code != 0 and lost:
        who = (f"process {args.process_id} of {args.num_processes}" if args.process_id is not None
               else "this process")
        print(f"evojax-rl: error: {who} stopped because another process of the run died or stopped "
              "answering; start them all again with --resume to continue from the last "
              "checkpoint.", file=sys.stderr)
        return EXIT_PEER_LOST
    return code if code >= 0 else 128 - code


def _cmd_train(args) -> int:
    from evojax_rl import presets, trainers
    from evojax_rl.runs import driver
    from evojax_rl.runs.log import check_run_dir

    if _wants_distributed(args):
        from evojax_rl import distributed

        distributed.initialize(args.coordinator, args.num_processes, args.process_id,
                               heartbeat_timeout=args.heartbeat_timeout)
    preset = presets.get(args.preset)
    _check_int("--seed", args.seed, 0, 2**32 - 1)
    _check_int("--generations", args.generations)
    _check_int("--iterations", args.iterations)
    _check_int("--steps", args.steps)
    _check_int("--popsize", args.popsize, 2)
    _check_int("--checkpoint-every", args.checkpoint_every, 0)
    seed = 0 if args.seed is None else args.seed
    out = args.out or _default_out(args.preset, seed, args.resume)
    # The check driver.run makes again, here first so that its sentences name the options.
    action = check_run_dir(out, resume=args.resume, overwrite=args.overwrite, flag="--{}")
    kind = preset.config.kind
    if args.resume:
        run = _read_run(out)
        if run.get("name") != args.preset or run["kind"] != kind:
            raise UsageError(f"--resume: {out!r} holds a run of {run.get('name')!r}, not {args.preset!r}.")
        if args.seed is not None and args.seed != run["seed"]:
            raise UsageError(f"--resume: {out!r} was trained with seed {run['seed']}, not {args.seed}.")
        seed = run["seed"]
        config = trainers.config_from_json(kind, run["config"])
        if args.popsize is not None and args.popsize != getattr(config, "popsize", args.popsize):
            raise UsageError(f"--resume: {out!r} was trained with popsize {config.popsize}, not {args.popsize}.")
    else:
        config = preset.config
    config = dataclasses.replace(config, **_overrides(args, config, args.preset))
    # Builds (and so validates) everything before saying what follows; compiles nothing.
    program = trainers.program(config)
    from evojax_rl import distributed

    if not distributed.is_main():
        action = None  # process 0 says what happens to the directory
    if action == "restart":
        print(f"evojax-rl: {out!r} holds a run that stopped before its first checkpoint; "
              "starting it afresh.", file=sys.stderr)
    elif action == "replace":
        print(f"evojax-rl: --overwrite: deleting the run in {out!r} and starting again.",
              file=sys.stderr)
    result = driver.run(program, out, seed=seed, resume=args.resume, overwrite=args.overwrite,
                        progress=not args.no_progress, name=args.preset)
    if distributed.is_main():
        print(f"{args.preset}: {trainers.headline(result)} ({result['wall_seconds']:.1f} s); "
              f"run directory {out}")
        print(json.dumps(result))
    return 0


def _cmd_eval(args) -> int:
    from evojax_rl import trainers
    from evojax_rl.runs import driver

    _check_int("--episodes", args.episodes)
    run = _read_run(args.dir)
    try:
        config = trainers.config_from_json(run["kind"], run["config"])
    except (TypeError, ValueError) as e:
        raise UsageError(f"{args.dir!r} holds an unreadable run configuration: {e}") from None
    if args.episodes is not None:
        if not hasattr(config, "eval_episodes"):
            raise UsageError(f"--episodes does not apply to {args.dir!r}, a run of kind "
                             f"{run['kind']!r}.")
        config = dataclasses.replace(config, eval_episodes=args.episodes)
    program = trainers.program(config)
    state, _ = driver.restore_latest(program, args.dir, run["seed"])
    print(json.dumps({
        "dir": args.dir,
        program.unit: program.steps_done(state),
        **trainers.eval_record(config, program.evaluate(state, run["seed"])),
        "params_sha256": driver.params_sha256(program.params(state)),
    }))
    return 0


def _cmd_play(args) -> int:
    from evojax_rl.alphazero import play

    _check_int("--simulations", args.simulations)
    return play.main(args.dir, num_simulations=args.simulations, human_first=args.first,
                     seed=args.seed)


def _cmd_plan(args) -> int:
    import contextlib
    import io

    from evojax_rl.validation import check_choice, check_positive

    try:
        check_choice("--strategy", args.strategy, ("cem", "cma_es"))
    except ValueError as e:
        raise UsageError(str(e)) from None
    for option in ("horizon", "iterations", "episodes", "max_steps"):
        _check_int("--" + option.replace("_", "-"), getattr(args, option))
    _check_int("--popsize", args.popsize, 2)
    _check_int("--seed", args.seed, 0, 2**32 - 1)
    if args.sigma is not None:
        check_positive("--sigma", args.sigma)
    import jax

    from evojax_rl import planning
    from evojax_rl.problems import make

    # An unknown name is also looked up among brax's environments, whose import prints
    # mujoco's "Failed to import warp" on stdout: stdout stays for our result alone.
    with contextlib.redirect_stdout(io.StringIO()):
        env = make(args.env)
    chosen = planning.settings(args.env, args.strategy)
    for option in chosen:
        if getattr(args, option) is not None:
            chosen[option] = getattr(args, option)
    planner = planning.make_planner(env, args.strategy, sigma=args.sigma,
                                    max_steps=args.max_steps, **chosen)
    result = planning.run(planner, jax.random.key(args.seed), args.episodes,
                          chunk=_PLAN_CHUNK, progress=not args.no_progress, desc=args.env)
    print(f"{args.env}: mean return {result.mean_return:.1f} over {args.episodes} episodes "
          f"({args.strategy}, horizon {chosen['horizon']}, popsize {chosen['popsize']}, "
          f"{chosen['iterations']} iterations; {result.seconds_per_step * 1e3:.2f} ms per control "
          f"step, {result.compile_seconds:.1f} s compiling)")
    print(json.dumps({
        "env": args.env, "strategy": args.strategy, **chosen,
        "sigma": args.sigma, "seed": args.seed, "episodes": args.episodes,
        "max_steps": planner.max_steps,
        "model_steps_per_control_step": chosen["popsize"] * chosen["iterations"]
        * chosen["horizon"],
        "mean_return": result.mean_return,
        "min_return": float(result.returns.min()),
        "returns": [float(r) for r in result.returns],
        "lengths": [int(n) for n in result.lengths],
        "steps": result.steps,
        "seconds_per_step": result.seconds_per_step,
        "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds,
    }))
    return 0


# Control steps per compiled chunk of ``plan`` (the progress bar moves once per chunk).
_PLAN_CHUNK = 25


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``evojax-rl`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    try:
        if args.command == "presets":
            return _cmd_presets()
        if args.command == "train":
            if not os.environ.get(_WORKER) and _wants_distributed(args):
                return _supervise(argv, args)
            return _cmd_train(args)
        if args.command == "play":
            return _cmd_play(args)
        if args.command == "plan":
            return _cmd_plan(args)
        return _cmd_eval(args)
    except ValueError as e:  # UsageError, CheckpointError and configuration errors
        print(f"evojax-rl: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("evojax-rl: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as e:
        if type(e).__name__ == "ReplicaMismatch":  # processes that drifted apart
            print(f"evojax-rl: error: {e}", file=sys.stderr)
            return 1
        # A multi-process run that lost a peer in the middle of a collective.
        if os.environ.get(_WORKER) and type(e).__name__ == "JaxRuntimeError":
            print(f"evojax-rl: peer lost: {str(e).splitlines()[0]}", file=sys.stderr)
            return EXIT_PEER_LOST
        raise


if __name__ == "__main__":
    sys.exit(main())
