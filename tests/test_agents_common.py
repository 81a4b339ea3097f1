"""The learner base class (mt_agents.common.MultiAgentAlgorithm), through a tiny linear learner.

``LinearQ`` below is a complete learner in the base class's shape (also used by
``test_agents_serialization.py`` and ``test_agents_evaluation.py``): one linear Q-function shared
by all agents, epsilon-greedy exploration from ``np_random``, a target copy, and a recurrent
"state" that counts steps since each episode started, to test that ``predict`` passes state
and ``episode_start`` through.
"""

from __future__ import annotations

import copy
import csv
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CheckpointCallback,
    ProgressBarCallback,
)
from stable_baselines3.common.logger import KVWriter, Logger

import mt_agents
import mt_envs
from mt_agents.common import MultiAgentAlgorithm, resolve_device
from mt_envs import mast_v0

torch.set_num_threads(1)
GAMMA = 0.95


class LinearQ(MultiAgentAlgorithm):
    """A linear Q-learner: the smallest complete subclass of the base class."""

    algorithm_name = "test_linear_q"

    def __init__(
        self,
        env: Any,
        *,
        learning_rate: float = 0.05,
        gamma: float = GAMMA,
        epsilon: float = 0.2,
        target_update: int = 20,
        device: Any = "auto",
        seed: int | None = None,
        tensorboard_log: Any = None,
        verbose: int = 0,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(
            env,
            learning_rate=learning_rate,
            gamma=gamma,
            device=device,
            seed=seed,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            stats_window_size=stats_window_size,
            _init_setup_model=_init_setup_model,
        )
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon={epsilon!r} is invalid: need a number in [0, 1]")
        self.epsilon = float(epsilon)
        self.target_update = int(target_update)
        self.updates = 0
        if _init_setup_model:
            self._setup_model()

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            **super()._hyperparameters(),
            "epsilon": self.epsilon,
            "target_update": self.target_update,
        }

    def _setup_model(self) -> None:
        d, a = int(self.observation_space.shape[0]), int(self.action_space.n)
        self.q_net = torch.nn.Linear(d, a).to(self.device)
        self.q_target = copy.deepcopy(self.q_net)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=self.learning_rate)

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {"q_net": self.q_net, "q_target": self.q_target}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"q_net": self.optimizer}

    def _extra_state(self) -> dict[str, Any]:
        return {"updates": self.updates}

    def _set_extra_state(self, state: Any) -> None:
        self.updates = int(state.get("updates", 0))

    def _predict(
        self,
        observation: torch.Tensor,
        state: Any,
        episode_start: torch.Tensor | None,
        deterministic: bool,
        action_mask: torch.Tensor | None,
    ) -> tuple[np.ndarray, Any]:
        b = observation.shape[0]
        steps = torch.zeros(b, dtype=torch.int64, device=self.device) if state is None else state
        if episode_start is not None:
            steps = torch.where(episode_start, torch.zeros_like(steps), steps)
        q = self.q_net(observation)
        if action_mask is not None:
            q = q.masked_fill(~action_mask, -math.inf)
        actions = q.argmax(-1).cpu().numpy()
        if not deterministic:
            explore = self.np_random.random(actions.shape) < self.epsilon
            if explore.any():
                legal = (
                    np.ones((*actions.shape, q.shape[-1]), dtype=bool)
                    if action_mask is None
                    else action_mask.cpu().numpy()
                )
                noise = self.np_random.random(legal.shape) * legal
                actions = np.where(explore, noise.argmax(-1), actions)
        return actions, steps + 1

    def learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        log_interval: int | None = 1,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> LinearQ:
        total_timesteps, cb = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        cb.on_training_start(locals(), globals())
        assert self.env is not None and self._last_obs is not None
        while self.num_timesteps < total_timesteps:
            cb.on_rollout_start()
            obs_t = torch.as_tensor(self._last_obs, device=self.device)
            with torch.no_grad():
                actions, _ = self._predict(obs_t, None, None, False, None)
            obs, rew, term, _trunc, info = self.env.step(actions)
            self.num_timesteps += self.num_envs
            self._update_info_buffer(info, rewards=rew, terminated=term)
            cb.update_locals(locals())
            if not cb.on_step():
                break
            cb.on_rollout_end()
            self._train_step(obs_t, actions, rew, term, info)
            self._last_obs, self._last_info = obs, info
            self._dump_logs_if_due(log_interval)
        cb.on_training_end()
        return self

    def _train_step(
        self, obs: torch.Tensor, actions: np.ndarray, rew: np.ndarray, term: np.ndarray, info: Any
    ) -> None:
        nxt = torch.as_tensor(info.get("final_obs", self._last_obs), device=self.device)
        with torch.no_grad():
            boot = self.q_target(nxt).max(-1).values
            target = torch.as_tensor(rew, device=self.device) + self.gamma * boot * torch.as_tensor(
                ~term, device=self.device
            )
        act = torch.as_tensor(actions, device=self.device)
        q = self.q_net(obs).gather(-1, act[..., None]).squeeze(-1)
        loss = torch.nn.functional.mse_loss(q, target)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        if self.updates % self.target_update == 0:
            self.q_target.load_state_dict(self.q_net.state_dict())
        self.logger.record("train/loss", loss.item())


class Capture(KVWriter):
    """A logger output that keeps every dump in memory."""

    def __init__(self) -> None:
        self.dumps: list[dict[str, Any]] = []

    def write(self, key_values: dict[str, Any], key_excluded: Any, step: int = 0) -> None:
        self.dumps.append({**key_values, "_step": step})


def make_venv(num_envs: int = 8, seed: int = 0, **kwargs: Any) -> Any:
    return mt_envs.make_vec("mast_v0", num_envs, seed=seed, **kwargs)


def read_progress(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- construction


def test_attributes_and_registration() -> None:
    venv = make_venv()
    model = LinearQ(venv, seed=0, device="cpu")
    assert model.num_envs == 8 and model.num_agents == 2
    assert model.possible_agents == ["agent_0", "agent_1"]
    assert model.observation_space.shape == (5,) and int(model.action_space.n) == 5
    assert model.task_set is venv.task_set and model.num_timesteps == 0
    assert model.device == torch.device("cpu")
    assert mt_agents.common.algorithm_classes()["test_linear_q"] is LinearQ
    assert model.task_name(4) == "mast-8x8-2a-pf0" and model.task_name(9) == "task_9"


def test_invalid_arguments() -> None:
    venv = make_venv()
    with pytest.raises(ValueError, match="gamma=1.5"):
        LinearQ(venv, gamma=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        LinearQ(venv, learning_rate=0.0)
    with pytest.raises(ValueError, match="seed"):
        LinearQ(venv, seed=-1)
    with pytest.raises(ValueError, match="stats_window_size"):
        LinearQ(venv, stats_window_size=0)
    with pytest.raises(ValueError, match="only allowed when loading"):
        LinearQ(None)
    with pytest.raises(ValueError, match="total_timesteps"):
        LinearQ(venv).learn(-5)


def test_device_auto() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert LinearQ(make_venv()).device.type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("cuda") == torch.device("cpu")  # SB3's fallback
    with pytest.raises(ValueError, match="device='gpu0'"):
        resolve_device("gpu0")


def test_parallel_env_is_wrapped() -> None:
    model = LinearQ(mast_v0.parallel_env(), seed=0, device="cpu")
    assert model.num_envs == 1 and model.num_agents == 2
    model.learn(40)
    assert model.num_timesteps == 40


def test_import_stays_light() -> None:
    code = (
        "import sys, mt_agents; "
        "bad = [m for m in ('matplotlib', 'tensorboard', 'ray') if m in sys.modules]; "
        "assert not bad, bad; "
        "assert mt_agents.MultiAgentAlgorithm is mt_agents.common.MultiAgentAlgorithm; "
        "assert callable(mt_agents.evaluate_multitask)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- predict


def test_predict_array_forms() -> None:
    venv = make_venv()
    model = LinearQ(venv, seed=0, device="cpu")
    obs, _ = venv.reset(seed=1)
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (8, 2) and actions.dtype == np.int64
    assert ((actions >= 0) & (actions < 5)).all()
    one, _ = model.predict(obs[3], deterministic=True)
    np.testing.assert_array_equal(one, actions[3])
    # greedy = argmax of the linear Q-function
    q = model.q_net(torch.as_tensor(obs)).argmax(-1).numpy()
    np.testing.assert_array_equal(actions, q)
    # an action mask that leaves one legal action forces it
    mask = np.zeros((8, 2, 5), dtype=bool)
    mask[..., 3] = True
    forced, _ = model.predict(obs, deterministic=False, action_mask=mask)
    assert (forced == 3).all()
    with pytest.raises(ValueError, match=r"expected \[B, N, D\] = \[B, 2, 5\]"):
        model.predict(np.zeros((8, 3, 5)))
    with pytest.raises(ValueError, match="action_mask has shape"):
        model.predict(obs, action_mask=np.ones((8, 2, 4), dtype=bool))


def test_predict_pettingzoo_dicts() -> None:
    env = mast_v0.parallel_env()
    model = LinearQ(env, seed=0, device="cpu")
    obs, _ = env.reset(seed=3)
    arr = np.stack([obs["agent_0"], obs["agent_1"]])[None]
    expected, _ = model.predict(arr, deterministic=True)
    actions, _ = model.predict(obs, deterministic=True)
    assert actions == {"agent_0": int(expected[0, 0]), "agent_1": int(expected[0, 1])}
    assert all(type(a) is int for a in actions.values())
    # only the agents present act; absent slots observe zeros
    solo, _ = model.predict({"agent_1": obs["agent_1"]}, deterministic=True)
    assert list(solo) == ["agent_1"]
    zeros = arr.copy()
    zeros[0, 0] = 0.0
    assert solo["agent_1"] == int(model.predict(zeros, deterministic=True)[0][0, 1])
    # PettingZoo's {"observation", "action_mask"} convention and dict masks
    only2 = np.eye(5, dtype=np.int8)[2]
    masked, _ = model.predict({"agent_0": {"observation": obs["agent_0"], "action_mask": only2}})
    assert masked == {"agent_0": 2}
    masked, _ = model.predict(obs, action_mask={"agent_1": only2}, deterministic=True)
    assert masked["agent_1"] == 2
    with pytest.raises(TypeError, match=r"action_mask as a dict \{agent: mask\}"):
        model.predict(obs, action_mask=np.ones((2, 5), dtype=bool))
    with pytest.raises(KeyError, match="agent_7"):
        model.predict({"agent_7": obs["agent_0"]})
    with pytest.raises(ValueError, match="expects 5"):
        model.predict({"agent_0": np.zeros(4)})
    # a whole PettingZoo episode driven by predict
    state: Any = None
    start, steps = True, 0
    while env.agents:
        actions, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        obs, *_ = env.step(actions)
        start, steps = False, steps + 1
    assert int(state[0]) == steps  # the recurrent state counted every step of the episode


def test_recurrent_state_passthrough() -> None:
    venv = make_venv(4)
    model = LinearQ(venv, seed=0, device="cpu")
    obs, _ = venv.reset(seed=0)
    _, state = model.predict(obs)
    assert state.tolist() == [1, 1, 1, 1]
    _, state = model.predict(obs, state=state)
    _, state = model.predict(obs, state=state, episode_start=np.array([0, 1, 0, 1], bool))
    assert state.tolist() == [3, 1, 3, 1]
    _, state = model.predict(obs, state=state, episode_start=True)  # one bool: every row
    assert state.tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="episode_start has 3 values"):
        model.predict(obs, state=state, episode_start=np.ones(3, bool))


# ----------------------------------------------------------------------------- learn


def test_learn_counts_and_episode_statistics() -> None:
    venv = make_venv()
    model = LinearQ(venv, seed=0, device="cpu")
    assert model.learn(1600) is model
    assert model.num_timesteps == 1600 and model.updates == 200
    entries = list(model.ep_info_buffer or [])
    assert entries and model._episode_num >= len(entries)
    horizons = {t.name: t.max_steps for t in venv.task_set}
    for e in entries:
        # MAST: every agent is paid 1 at the capture, the episode then terminates
        assert e["r"] == (1.0 if e["success"] else 0.0)
        assert e["dr"] == pytest.approx(GAMMA ** (e["l"] - 1) if e["success"] else 0.0)
        assert e["task"] == venv.task_set.names[e["task_id"]]
        assert 1 <= e["l"] <= horizons[e["task"]]
        if not e["success"]:
            assert e["l"] == horizons[e["task"]]
    per_task = sum(len(b) for b in model.task_ep_info_buffers.values())
    assert per_task >= len(entries)


def test_same_seed_same_parameters() -> None:
    def train(seed: int) -> dict[str, dict[str, torch.Tensor]]:
        return LinearQ(make_venv(seed=seed), seed=seed, device="cpu").learn(480).get_parameters()

    a, b, c = train(3), train(3), train(4)
    for name in a:
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key])
    assert not torch.equal(a["q_net"]["weight"], c["q_net"]["weight"])


def test_get_set_parameters() -> None:
    venv = make_venv()
    model = LinearQ(venv, seed=0, device="cpu")
    obs, _ = venv.reset(seed=2)
    params = model.get_parameters()
    assert set(params) == {"q_net", "q_target"} and set(params["q_net"]) == {"weight", "bias"}
    before, _ = model.predict(obs, deterministic=True)
    with torch.no_grad():
        model.q_net.weight.mul_(-1.0)
        model.q_net.bias.add_(3.0)
    assert not torch.equal(model.q_net.weight, params["q_net"]["weight"])  # a copy, not a view
    model.set_parameters(params)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], before)
    model.set_parameters({"q_net": {"bias": torch.ones(5)}}, exact_match=False)
    assert torch.equal(model.q_net.bias, torch.ones(5))
    assert torch.equal(model.q_net.weight, params["q_net"]["weight"])
    with pytest.raises(ValueError, match=r"modules \['q_target'\] are missing"):
        model.set_parameters({"q_net": params["q_net"]})
    with pytest.raises(ValueError, match=r"unknown modules \['policy'\]"):
        model.set_parameters({**params, "policy": {}})
    bad = {**params, "q_net": {"weight": torch.zeros(5, 6), "bias": torch.zeros(5)}}
    with pytest.raises(ValueError, match=r"shape \[5, 6\], the network has \[5, 5\]"):
        model.set_parameters(bad)


def test_logger_csv_has_per_task_keys(tmp_path: Path) -> None:
    venv = make_venv()
    model = LinearQ(venv, seed=0, device="cpu", tensorboard_log=tmp_path)
    model.learn(1600, log_interval=8, tb_log_name="lin")
    rows = read_progress(tmp_path / "lin_1" / "progress.csv")
    assert len(rows) >= 3
    keys = set(rows[0])
    seen = {model.task_name(t) for t in model.task_ep_info_buffers}
    assert seen == set(venv.task_set.names)  # every task played in 200 episodes
    for name in seen:
        for metric in ("ep_rew_mean", "ep_len_mean", "ep_disc_rew_mean", "success_rate"):
            assert f"rollout/task/{name}/{metric}" in keys
    for key in ("time/total_timesteps", "time/fps", "rollout/ep_rew_mean", "train/loss"):
        assert key in keys
    steps = [int(r["time/total_timesteps"]) for r in rows]
    assert steps == sorted(steps) and steps[-1] <= 1600
    # a continued run writes into the same folder, in a new csv
    model.learn(160, reset_num_timesteps=False, log_interval=1, tb_log_name="lin")
    assert model.num_timesteps == 1760
    more = read_progress(tmp_path / "lin_1" / "progress_2.csv")
    assert int(more[-1]["time/total_timesteps"]) > 1600
    # a new run gets a new folder
    model.learn(80, tb_log_name="lin")
    assert (tmp_path / "lin_2" / "progress.csv").exists()


def test_dumped_statistics_are_the_window_means() -> None:
    venv = make_venv()
    model = LinearQ(venv, seed=1, device="cpu", stats_window_size=10)
    capture = Capture()
    model.set_logger(Logger(folder=None, output_formats=[capture]))
    model.learn(800, log_interval=None)
    assert capture.dumps == []  # log_interval=None: never dumped
    model.dump_logs()
    out = capture.dumps[-1]
    assert out["_step"] == 800 and out["time/total_timesteps"] == 800
    entries = list(model.ep_info_buffer or [])
    assert len(entries) == 10
    assert out["rollout/ep_rew_mean"] == pytest.approx(np.mean([e["r"] for e in entries]))
    assert out["rollout/ep_len_mean"] == pytest.approx(np.mean([e["l"] for e in entries]))
    for task_id, buf in model.task_ep_info_buffers.items():
        prefix = f"rollout/task/{model.task_name(task_id)}/"
        assert out[prefix + "ep_len_mean"] == pytest.approx(np.mean([e["l"] for e in buf]))
        assert out[prefix + "success_rate"] == pytest.approx(np.mean([e["success"] for e in buf]))
        assert out[prefix + "ep_disc_rew_mean"] == pytest.approx(np.mean([e["dr"] for e in buf]))


class CountingCallback(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def _on_training_start(self) -> None:
        self.calls.append("start")
        assert self.locals["total_timesteps"] == 400
        assert self.training_env.num_envs == 8

    def _on_step(self) -> bool:
        self.calls.append("step")
        return True

    def _on_training_end(self) -> None:
        self.calls.append("end")


def test_sb3_callbacks(tmp_path: Path) -> None:
    venv = make_venv()
    model = LinearQ(venv, seed=0, device="cpu")
    counting = CountingCallback()
    checkpoints = CheckpointCallback(save_freq=10, save_path=str(tmp_path), name_prefix="lq")
    model.learn(400, callback=[counting, checkpoints])
    assert counting.calls == ["start", *["step"] * 50, "end"]
    assert counting.num_timesteps == 400
    files = sorted(tmp_path.glob("lq_*_steps.zip"))
    assert [f.name for f in files] == [f"lq_{k}_steps.zip" for k in (160, 240, 320, 400, 80)]
    restored = LinearQ.load(tmp_path / "lq_240_steps.zip", env=venv)
    assert restored.num_timesteps == 240
    # a plain function stops training by returning False
    stopper = LinearQ(venv, seed=0, device="cpu").learn(400, callback=lambda _l, _g: False)
    assert stopper.num_timesteps == 8


@pytest.mark.filterwarnings("ignore:rich is experimental")
def test_progress_bar() -> None:
    venv = make_venv()
    model = LinearQ(venv, seed=0, device="cpu")
    bar = ProgressBarCallback()
    model.learn(240, callback=bar)
    assert bar.pbar.n == 240 and bar.pbar.total == 240
    model.learn(80, progress_bar=True)  # the built-in switch
    assert model.num_timesteps == 80


def test_set_env_checks_spaces() -> None:
    model = LinearQ(make_venv(), seed=0, device="cpu")
    model.set_env(make_venv(4))
    assert model.num_envs == 4
    model.learn(40)
    assert model.num_timesteps == 40
    with pytest.raises(ValueError, match="observations"):
        model.set_env(make_venv(obs_encoding="onehot"))
