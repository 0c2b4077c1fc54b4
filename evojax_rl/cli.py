"""The ``evojax-rl`` command.

    evojax-rl presets
    evojax-rl train PRESET [--seed N] [--generations N] [--popsize N] [--out DIR]
                           [--checkpoint-every N] [--resume | --overwrite] [--no-progress]
    evojax-rl eval DIR [--episodes N]

Bad input gives one sentence on stderr and exit status 2, with nothing written. Options must be
spelled out (no abbreviations: ``--pop 8`` is refused, not read as ``--popsize 8``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

EXIT_BAD_INPUT = 2


class UsageError(ValueError):
    """Bad input from the command line."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors (unknown or malformed options) as one line, in our format, exit
    status 2; subparsers inherit it."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"evojax-rl: error: {message} (see '{self.prog} --help').\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="evojax-rl", description="Neuroevolution on JAX environments.",
                 allow_abbrev=False)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("presets", help="list the named configurations", allow_abbrev=False)
    t = sub.add_parser("train", help="train a preset", allow_abbrev=False)
    t.add_argument("preset")
    t.add_argument("--seed", type=int, default=None, help="PRNG seed (default 0)")
    t.add_argument("--generations", type=int, default=None, help="override the preset's generations")
    t.add_argument("--popsize", type=int, default=None, help="override the preset's population size")
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
    e = sub.add_parser("eval", help="evaluate a run's newest checkpoint", allow_abbrev=False)
    e.add_argument("dir")
    e.add_argument("--episodes", type=int, default=None, help="fresh episodes (default: the run's eval_episodes)")
    return ap


def _cmd_presets() -> int:
    from evojax_rl.presets import PRESETS

    for name, p in PRESETS.items():
        c = p.config
        print(f"{name}\n    {p.description}\n    env {c.env}, strategy {c.strategy}, popsize {c.popsize}, "
              f"generations {c.generations}\n    expected: {p.expected}")
    return 0


def _read_run(out: str) -> dict:
    path = os.path.join(out, "config.json")
    try:
        with open(path) as f:
            run = json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{out!r} is not an evojax-rl run directory (no config.json).") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path!r}: {e}.") from None
    if not isinstance(run, dict) or not isinstance(run.get("config"), dict) or "seed" not in run:
        raise UsageError(f"{path!r} is not an evojax-rl run configuration.")
    return run


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


def _cmd_train(args) -> int:
    from evojax_rl import presets, run_log, trainer

    preset = presets.get(args.preset)
    _check_int("--seed", args.seed, 0, 2**32 - 1)
    _check_int("--generations", args.generations)
    _check_int("--popsize", args.popsize, 2)
    _check_int("--checkpoint-every", args.checkpoint_every, 0)
    seed = 0 if args.seed is None else args.seed
    out = args.out or _default_out(args.preset, seed, args.resume)
    # The check train() makes again, here first so that its sentences name the options.
    action = run_log.check_run_dir(out, resume=args.resume, overwrite=args.overwrite, flag="--{}")
    if args.resume:
        run = _read_run(out)
        if run.get("name") != args.preset:
            raise UsageError(f"--resume: {out!r} holds a run of {run.get('name')!r}, not {args.preset!r}.")
        if args.seed is not None and args.seed != run["seed"]:
            raise UsageError(f"--resume: {out!r} was trained with seed {run['seed']}, not {args.seed}.")
        seed = run["seed"]
        config = trainer.TrainConfig.from_json(run["config"])
        if args.popsize is not None and args.popsize != config.popsize:
            raise UsageError(f"--resume: {out!r} was trained with popsize {config.popsize}, not {args.popsize}.")
    else:
        config = preset.config
    overrides = {}
    if args.generations is not None:
        overrides["generations"] = args.generations
    if args.popsize is not None:
        overrides["popsize"] = args.popsize
    if args.checkpoint_every is not None:
        overrides["checkpoint_every"] = args.checkpoint_every
    config = dataclasses.replace(config, **overrides)
    trainer.build(config)  # validates popsize against the strategy etc. before saying what follows
    if action == "restart":
        print(f"evojax-rl: {out!r} holds a run that stopped before its first checkpoint; "
              "starting it afresh.", file=sys.stderr)
    elif action == "replace":
        print(f"evojax-rl: --overwrite: deleting the run in {out!r} and starting again.",
              file=sys.stderr)
    result = trainer.train(config, out, seed=seed, resume=args.resume, overwrite=args.overwrite,
                           progress=not args.no_progress, name=args.preset)
    print(f"{args.preset}: mean policy returned {result['final_mean_return']:.1f} on "
          f"{result['eval_episodes']} fresh episodes after {result['generations']} generations "
          f"({result['wall_seconds']:.1f} s); run directory {out}")
    print(json.dumps(result))
    return 0


def _cmd_eval(args) -> int:
    from evojax_rl import checkpoint, trainer

    _check_int("--episodes", args.episodes)
    if not os.path.exists(args.dir):
        raise UsageError(f"run directory {args.dir!r} does not exist.")
    if not os.path.isdir(args.dir):
        raise UsageError(f"{args.dir!r} is not a directory; pass a run directory.")
    run = _read_run(args.dir)
    try:
        config = trainer.TrainConfig.from_json(run["config"])
    except (TypeError, ValueError) as e:
        raise UsageError(f"{args.dir!r} holds an unreadable run configuration: {e}") from None
    if args.episodes is not None:
        config = dataclasses.replace(config, eval_episodes=args.episodes)
    t = trainer.build(config)
    ts, info = checkpoint.restore(os.path.join(args.dir, "checkpoints"), t.init(run["seed"]))
    returns = float(t.evaluate(ts, run["seed"]))
    print(json.dumps({
        "dir": args.dir,
        "generation": int(ts.generation),
        "episodes": config.eval_episodes,
        "mean_return": returns,
        "params_sha256": trainer.params_sha256(t.mean_params(ts)),
    }))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``evojax-rl`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "presets":
            return _cmd_presets()
        if args.command == "train":
            return _cmd_train(args)
        return _cmd_eval(args)
    except ValueError as e:  # UsageError, CheckpointError and configuration errors
        print(f"evojax-rl: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("evojax-rl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
