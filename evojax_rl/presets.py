"""Named, documented training configurations for ``evojax-rl train PRESET``.

Each preset is a ``TrainConfig`` plus a one-line description and the result it is expected to
reach (the mean policy's return on fresh episodes at the end of ``evojax-rl train PRESET``
with the default seed, measured on a 2-core CPU), next to the published figure where there is
one (gymnax's ES checkpoints).
"""

from __future__ import annotations

from typing import NamedTuple

from evojax_rl.trainer import TrainConfig


class Preset(NamedTuple):
    config: TrainConfig
    description: str
    expected: str


PRESETS: dict[str, Preset] = {
    "cartpole-openes": Preset(
        TrainConfig(
            env="CartPole-v1",
            hidden=(32, 32),
            strategy="open_es",
            strategy_kwargs={"sigma": 0.1, "learning_rate": 0.05},
            popsize=256,
            generations=100,
            chunk=5,
            eval_episodes=16,
            target_return=475.0,
        ),
        "OpenAI-ES, 4-32-32-2 tanh MLP (argmax), popsize 256; stops once the mean policy "
        "scores >= 475 on 16 fresh episodes.",
        "500 (solved, >= 475) in ~10 generations, ~10 s on 2 CPU cores; published 500.",
    ),
    "pendulum-openes": Preset(
        TrainConfig(
            env="Pendulum-v1",
            hidden=(32, 32),
            strategy="open_es",
            strategy_kwargs={"sigma": 0.05, "learning_rate": 0.02},
            popsize=256,
            episodes=2,
            generations=1000,
            chunk=100,
            eval_episodes=16,
        ),
        "OpenAI-ES, 3-32-32-1 tanh MLP (tanh head, torque in [-2, 2]), popsize 256, "
        "2 episodes per member, 1000 generations.",
        "-143 after 1000 generations (~40 s on 2 CPU cores); published -130.",
    ),
    "acrobot-openes": Preset(
        TrainConfig(
            env="Acrobot-v1",
            hidden=(32, 32),
            strategy="open_es",
            strategy_kwargs={"sigma": 0.1, "learning_rate": 0.05},
            popsize=128,
            generations=100,
            chunk=10,
            eval_episodes=16,
        ),
        "OpenAI-ES, 6-32-32-3 tanh MLP (argmax), popsize 128, 100 generations.",
        "-76 after 100 generations (~16 s on 2 CPU cores); published -80.",
    ),
    "mountaincarcontinuous-ga": Preset(
        TrainConfig(
            env="MountainCarContinuous-v0",
            hidden=(32, 32),
            strategy="simple_ga",
            strategy_kwargs={"sigma": 0.1, "elite_ratio": 0.1},
            popsize=128,
            generations=100,
            chunk=10,
            eval_episodes=16,
        ),
        "Simple GA with elitism, 2-32-32-1 tanh MLP (tanh head), popsize 128, 100 generations.",
        "98 after 100 generations (~13 s on 2 CPU cores); published 92.",
    ),
    "breakout-minatar-openes": Preset(
        TrainConfig(
            env="Breakout-MinAtar",
            hidden=(32,),
            strategy="open_es",
            strategy_kwargs={"sigma": 0.05, "learning_rate": 0.05},
            popsize=256,
            episodes=2,
            generations=400,
            chunk=50,
            eval_episodes=16,
            obs_norm=False,
        ),
        "OpenAI-ES on MinAtar Breakout, 400-32-3 tanh MLP (argmax) over the 10x10x4 frame, "
        "popsize 256, 2 episodes per member, 400 generations.",
        "7 after 400 generations (~35 s on 2 CPU cores); no published ES figure to compare.",
    ),
    "ant-openes": Preset(
        TrainConfig(
            env="brax/ant",
            env_kwargs={"backend": "spring"},
            max_steps=100,
            hidden=(32, 32),
            strategy="open_es",
            strategy_kwargs={"sigma": 0.05, "learning_rate": 0.03},
            popsize=64,
            generations=20,
            chunk=10,
            eval_episodes=8,
        ),
        "OpenAI-ES on brax Ant (spring backend, 100-step episodes), 27-32-32-8 tanh MLP, "
        "popsize 64, 20 generations: a short run that fits a CPU (needs the [brax] extra).",
        "50 after 20 generations (~105 s on 2 CPU cores, ~70 s of it compiling brax); "
        "a smoke run, far from a trained Ant.",
    ),
}


def get(name: str) -> Preset:
    """The preset ``name``; an unknown name raises with the list of valid names."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}.")
    return PRESETS[name]
