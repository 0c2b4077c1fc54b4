"""Named, documented training configurations for ``evojax-rl train PRESET``.

Each preset is a ``TrainConfig``, a one-line description, and what it is expected to reach: a
``floor`` for the mean policy's return on fresh episodes at the end of ``evojax-rl train
PRESET`` with seed 0. Floating-point results differ between CPUs (the Ant preset's seed-0 run
ends at different returns on two CPUs), so the floor is set well below what was measured, to
hold on any machine; ``benchmarks/preset_returns.py`` runs every preset and checks it. The
published figure (gymnax's ES checkpoints) is kept beside it where there is one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from evojax_rl.alphazero.config import AlphaZeroConfig
from evojax_rl.pbt.trainer import PBTConfig
from evojax_rl.trainer import TrainConfig


class Preset(NamedTuple):
    """A named configuration. ``floor``: seed 0's final mean-policy return is >= this on any
    machine (conservative; ES presets, None for others). ``published``: the published figure,
    None where there is none. ``note``: human text printed after the floor (run length,
    caveats; for AlphaZero presets, what the run reaches and where it is measured)."""

    config: Any
    description: str
    floor: float | None
    published: float | None
    note: str

    @property
    def summary(self) -> str:
        """One line on the configuration (``config.describe()``)."""
        return self.config.describe()

    @property
    def expected(self) -> str:
        """Human text: the floor, the published figure, the note."""
        if self.floor is None:
            return self.note
        pub = "no published figure" if self.published is None else f"published {self.published:g}"
        return f"return >= {self.floor:g} with seed 0 ({pub}); {self.note}"


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
        475.0, 500.0,
        "stops once solved (>= 475), ~10 generations, ~14 s on 2 CPU cores (~6 s with a warm "
        "compilation cache).",
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
        -250.0, -130.0,
        "1000 generations, ~40 s on 2 CPU cores. Seed-sensitive: some seeds never find the "
        "swing-up and end far below this floor, so it is the least safe of the floors.",
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
        -100.0, -80.0,
        "100 generations, ~16 s on 2 CPU cores.",
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
        80.0, 92.0,
        "100 generations, ~13 s on 2 CPU cores.",
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
        4.0, None,
        "400 generations, ~35 s on 2 CPU cores.",
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
        40.0, None,
        "20 generations, ~105 s on 2 CPU cores (~70 s of it compiling brax); "
        "a smoke run, far from a trained Ant.",
    ),
    "tetris-cem-noisy": Preset(
        TrainConfig(
            env="tetris",
            max_steps=1000,
            policy="afterstate",
            strategy="cem",
            strategy_kwargs={"sigma": 10.0, "elite_ratio": 0.1, "noise": "decreasing",
                             "noise_a": 5.0, "noise_b": 10.0},
            popsize=100,
            generations=30,
            chunk=10,
            eval_episodes=10,
            obs_norm=False,
        ),
        "Szita & Lorincz's noisy cross-entropy method on Tetris (10x20, the seven tetrominoes): a "
        "linear evaluation of the 22 Bertsekas-Tsitsiklis afterstate features, population 100, "
        "10% elites, sigma 10 from a zero mean, extra variance max(5 - t/10, 0); games capped "
        "at 1000 pieces (about 400 lines), 30 generations.",
        250.0, None,
        "the return is the lines of the first 1000 pieces, so at most ~400 (seed 0: 337.6 on 10 "
        "capped games); 30 generations, ~25 s as a whole process on 2 idle CPU cores (cold "
        "compilation cache). The paper's experiment, with uncapped games for the final policies: "
        "benchmarks/tetris_cem.py (evojax_rl.tetris.train, the same strategy and fitness in one "
        "compiled loop).",
    ),
    "pendulum-pbt": Preset(
        PBTConfig(
            learner="es",
            learner_kwargs={"env": "Pendulum-v1", "hidden": [16, 16], "popsize": 32,
                            "episodes": 1, "score_episodes": 4, "test_episodes": 16},
            priors={"learning_rate": ["log_uniform", 1e-3, 0.3],
                    "sigma": ["log_uniform", 0.01, 0.5]},
            members=16,
            steps=400,
            ready=10,
            chunk=50,
        ),
        "PBT (Jaderberg et al. 2017) of 16 OpenAI-ES learners on Pendulum-v1, each a 3-16-16-1 "
        "tanh MLP with popsize 32; every 10 generations the bottom 20% by the mean policy's "
        "return on 4 episodes copy the top 20% and perturb or resample learning_rate and sigma; "
        "400 generations.",
        None, None,
        "400 generations, ~44 s on 2 CPU cores as a whole process (~10 s of it training; ~25 s "
        "with a warm compilation cache); seed 0's best member by training score returned -166 "
        "on 16 fresh episodes (measured). benchmarks/pbt.py, seeds 0-2: -203 on 64 fresh episodes against -975 for "
        "the median of 16 runs with fixed hyperparameters from the same priors, same cost.",
    ),
    "tictactoe-alphazero": Preset(
        AlphaZeroConfig(
            game="tic_tac_toe",
            network="mlp",
            hidden=(128, 128),
            search="gumbel",
            num_simulations=32,
            selfplay_batch=512,
            opening_plies=4,
            replay_window=4,
            batch_size=512,
            updates=200,
            learning_rate=1e-3,
            iterations=21,
            chunk=3,
            eval_games=100,
            eval_simulations=64,
            eval_opponents=("random", "previous", "perfect"),
        ),
        "AlphaZero (Gumbel MuZero, 32 simulations; 64 when judged) on pgx tic-tac-toe, MLP "
        "128x2, 512 self-play games per iteration (0-4 random opening plies), 21 iterations of "
        "200 Adam steps, judged every 3 against random, "
        "the previous parameters and a perfect player (needs the [games] extra).",
        None, None,
        "perfect play: its agent lost no line against the perfect player over all its optimal "
        "replies in both seats and no game in 1000 against random, perfect from iteration 6; "
        "48 s as a whole process from an empty compilation cache on 2 CPU cores "
        "(benchmarks/alphazero_tictactoe.py).",
    ),
    "connect4-alphazero": Preset(
        AlphaZeroConfig(
            game="connect_four",
            network="mlp",
            hidden=(256, 256),
            search="gumbel",
            num_simulations=32,
            selfplay_batch=256,
            opening_plies=2,
            replay_window=8,
            batch_size=512,
            updates=64,
            learning_rate=1e-3,
            iterations=200,
            chunk=20,
            eval_games=100,
            eval_simulations=64,
            mcts_simulations=200,
            eval_opponents=("random", "mcts", "previous"),
        ),
        "AlphaZero (Gumbel MuZero, 32 simulations; 64 when judged) on pgx connect four, MLP "
        "256x2, 256 self-play games per iteration, 200 iterations, judged every 20 against "
        "random, pure MCTS with 200 random-rollout simulations and the previous parameters "
        "(needs the [games] extra).",
        None, None,
        "after 200 iterations (~12 min on 2 CPU cores) its agent won 99.5% of 400 games against "
        "random and scored 0.81 against pure MCTS with 200 random-rollout simulations "
        "(benchmarks/alphazero_connect4.py; the curve is in BENCHMARKS.md).",
    ),
}


def get(name: str) -> Preset:
    """The preset ``name``; an unknown name raises with the list of valid names."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}.")
    return PRESETS[name]
