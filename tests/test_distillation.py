"""Policy distillation (paper 000, section 5.2): the KL loss of equation 6, the per-task memories,
the learner's information flow (no task id), save/load, and a small learning test."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import mt_envs
from mt_agents import DecHDRQN, ModelFileError, evaluate_multitask, load_model
from mt_agents.distillation import (
    DistillationMemories,
    DistillationMemory,
    PolicyDistillation,
    tempered_kl_loss,
    tempered_kl_per_element,
)
from mt_envs.capture import CaptureTask
from mt_envs.tasks import TaskSet, fixed

torch.set_num_threads(1)


# -- the loss (equation 6) -----------------------------------------------------------------------
def test_kl_equals_hand_computation() -> None:
    # Teacher Q = (ln 2, 0) at T = 1: softmax = (2/3, 1/3). Student Q = (0, 0): (1/2, 1/2).
    teacher = torch.tensor([[math.log(2.0), 0.0]])
    student = torch.tensor([[0.0, 0.0]])
    want = 2 / 3 * math.log((2 / 3) / (1 / 2)) + 1 / 3 * math.log((1 / 3) / (1 / 2))
    got = tempered_kl_per_element(student, teacher, temperature=1.0)
    assert got.item() == pytest.approx(want, abs=1e-6)
    # T = 0.5 doubles the teacher's logits: (2 ln 2, 0) -> (4/5, 1/5).
    # Student (ln 3, 0): (3/4, 1/4).
    got = tempered_kl_per_element(torch.tensor([math.log(3.0), 0.0]), teacher[0], 0.5)
    want = 0.8 * math.log(0.8 / 0.75) + 0.2 * math.log(0.2 / 0.25)
    assert got.item() == pytest.approx(want, abs=1e-6)
    # Equal distributions: zero divergence (student logits may differ by a constant).
    same = tempered_kl_per_element(
        torch.tensor([1.0, 2.0, 3.0]) + 7.0, torch.tensor([1.0, 2.0, 3.0]), 1.0
    )
    assert same.item() == pytest.approx(0.0, abs=1e-6)


def test_kl_loss_is_each_agents_masked_mean_summed() -> None:
    gen = torch.Generator().manual_seed(0)
    student = torch.randn(2, 3, 4, 5, generator=gen)  # [N, T, M, A]
    teacher = torch.randn(2, 3, 4, 5, generator=gen)
    mask = torch.ones(2, 3, 4)
    mask[0, 2] = 0.0  # agent 0: last step of every trace is padding
    mask[1] = 0.0
    mask[1, 0, 0] = 1.0  # agent 1: a single real element
    per = tempered_kl_per_element(student, teacher, 0.3)
    want = per[0, :2].mean() + per[1, 0, 0]
    loss = tempered_kl_loss(student, teacher, mask, 0.3)
    assert loss.item() == pytest.approx(want.item(), rel=1e-6)
    # Padding may hold anything: huge values there change neither the loss nor its gradient.
    student2 = student.clone()
    teacher2 = teacher.clone()
    student2[0, 2] = 1e4
    teacher2[1, 1:] = -1e4
    s1 = student.clone().requires_grad_(True)
    s2 = student2.clone().requires_grad_(True)
    l1 = tempered_kl_loss(s1, teacher, mask, 0.3)
    l2 = tempered_kl_loss(s2, teacher2, mask, 0.3)
    assert l2.item() == pytest.approx(l1.item(), rel=1e-6)
    l1.backward()
    l2.backward()
    assert s2.grad is not None and s1.grad is not None
    assert torch.all(s2.grad[0, 2] == 0.0) and torch.all(s2.grad[1, 1:] == 0.0)
    assert torch.allclose(s1.grad, s2.grad, atol=1e-7)
    # An agent without real elements adds 0.
    assert tempered_kl_loss(student, teacher, torch.zeros(2, 3, 4), 0.3).item() == 0.0


def test_temperature_sharpens_toward_the_teachers_argmax() -> None:
    teacher = torch.tensor([0.50, 0.52, 0.10, -0.3])  # greedy action 1, near-tie with 0
    student = torch.tensor([0.2, -0.1, 0.4, 0.0])
    log_p = torch.log_softmax(student, dim=-1)
    # T -> 0: the target is one-hot on action 1, so the loss is the cross-entropy -log p_S(1).
    assert tempered_kl_per_element(student, teacher, 1e-4).item() == pytest.approx(
        -log_p[1].item(), abs=1e-5
    )
    # T -> infinity: the target is uniform.
    uniform = float(-(math.log(4.0)) - log_p.mean())
    assert tempered_kl_per_element(student, teacher, 1e6).item() == pytest.approx(uniform, abs=1e-5)
    # The tempered target's entropy falls as T falls, and at T = 0.01 a 0.02 gap already
    # gives the greedy action e^2 / (1 + e^2) = 0.88 of the mass.
    entropies = []
    for t in (10.0, 1.0, 0.1, 0.01, 0.001):
        p = torch.softmax(teacher / t, dim=-1)
        entropies.append(float(-(p * p.clamp_min(1e-30).log()).sum()))
    assert all(a > b for a, b in itertools.pairwise(entropies))
    p = torch.softmax(teacher / 0.01, dim=-1)
    assert p[1].item() == pytest.approx(math.exp(2) / (1 + math.exp(2) + 2 * math.exp(-40)), 1e-5)
    # The student that ranks the teacher's greedy action first is the better fit at low T.
    fits = torch.tensor([[5.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0]])
    kl = tempered_kl_per_element(fits, teacher.expand(2, 4), 0.01)
    assert kl[1] < kl[0]


def test_kl_leaves_out_illegal_actions() -> None:
    teacher = torch.tensor([[1.0, 3.0, 0.5]])
    student = torch.tensor([[0.3, 9.0, -1.0]])
    legal = torch.tensor([[True, False, True]])
    got = tempered_kl_per_element(student, teacher, 0.7, legal)
    want = tempered_kl_per_element(student[:, [0, 2]], teacher[:, [0, 2]], 0.7)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    none_legal = tempered_kl_per_element(student, teacher, 0.7, torch.zeros(1, 3, dtype=torch.bool))
    assert none_legal.item() == 0.0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), True, "0.1"])
def test_temperature_must_be_positive(bad: object) -> None:
    q = torch.zeros(1, 3)
    with pytest.raises(ValueError, match="temperature"):
        tempered_kl_per_element(q, q, bad)  # type: ignore[arg-type]


# -- memories ------------------------------------------------------------------------------------
def test_memory_traces_are_consecutive_padded_and_cover_every_start() -> None:
    mem = DistillationMemory(capacity=4, max_steps=10, num_agents=2, obs_dim=1, n_actions=3)
    length = 6
    obs = np.arange(1, length + 1, dtype=np.float32)[:, None, None].repeat(2, axis=1)
    q = np.repeat(obs, 3, axis=2)
    live = np.ones((length, 2), dtype=bool)
    live[:, 1] = np.arange(length) < 4  # agent 1 leaves after 4 steps
    mem.add_episode(obs, q, np.ones((length, 2, 3), dtype=bool), live)
    tau = 3
    o, tq, legal, mask, n_real = mem.sample_traces(4000, tau, np.random.default_rng(0))
    firsts = o[:, 0, 0, 0]
    # Starts t0 in {-2, ..., 5}: t0 <= 0 begins at step 1, so firsts are 1..6, with 1 three
    # times as likely as each other (t0 = -2, -1, 0).
    counts = np.array([(firsts == v).sum() for v in range(1, 7)])
    assert counts.sum() == 4000
    assert abs(counts[0] / 4000 - 3 / 8) < 0.03
    assert np.all(np.abs(counts[1:] / 4000 - 1 / 8) < 0.025)
    for k in range(tau):
        real = k < n_real
        assert np.all(o[real, k, 0, 0] == firsts[real] + k)  # consecutive steps
        assert np.all(o[~real, k] == 0.0) and np.all(tq[~real, k] == 0.0)  # suffix padding
        assert np.all(mask[~real, k] == 0.0) and np.all(legal[~real, k])
        assert np.all(mask[real, k, 0] == 1.0)
        assert np.all(mask[real, k, 1] == (o[real, k, 0, 0] <= 4))
    assert np.all(tq[..., 0] == o[..., 0])


def test_memories_file_episodes_by_task_and_mix_tasks() -> None:
    mems = DistillationMemories(
        n_tasks=3, capacity=5, max_steps=4, num_envs=2, num_agents=1, obs_dim=1, n_actions=2
    )
    ones = np.ones((2, 1, 2), dtype=bool)
    live = np.ones((2, 1), dtype=bool)
    # env 0 plays task 2 for 3 steps; env 1 plays task 0 for 1 step, then task 1 for 4 (cut).
    steps = [([2, 0], [False, True]), ([2, 1], [False, False]), ([2, 1], [True, False])]
    steps += [([0, 1], [False, False]), ([0, 1], [False, False])]
    for t, (task, done) in enumerate(steps):
        obs = np.array([[[10.0 * task[0] + t]], [[10.0 * task[1] + t]]], dtype=np.float32)
        mems.add(obs, np.zeros((2, 1, 2), np.float32), ones, live, np.array(task), np.array(done))
    assert mems.sizes == [1, 1, 1]  # task 1's episode hit max_steps=4 and was filed
    assert mems[2].lengths[0] == 3 and mems[0].lengths[0] == 1 and mems[1].lengths[0] == 4
    np.testing.assert_array_equal(mems[2].obs[0, :3, 0, 0], [20.0, 21.0, 22.0])
    batch = mems.sample(3000, 2, np.random.default_rng(1))
    shares = np.bincount(batch.task_id, minlength=3) / 3000
    assert np.all(np.abs(shares - 1 / 3) < 0.04)  # tasks weigh the same
    first = batch.obs[:, 0, 0, 0]
    assert np.all((first // 10)[batch.task_id == 2] == 2)  # each trace comes from its task
    with pytest.raises(ValueError, match="no episode"):
        DistillationMemories(1, 1, 2, 1, 1, 1, 2).sample(1, 1, np.random.default_rng(0))


# -- the learner ---------------------------------------------------------------------------------
def _mixed_set() -> TaskSet:
    """Two tasks with different team sizes, padded to three agent slots."""
    return TaskSet(
        "mixed",
        (
            CaptureTask.mamt(3, n_agents=2, flicker=0.3),
            CaptureTask.mamt(4, n_agents=3, flicker=0.1, assignment=(1, 2, 0)),
        ),
    )


def _teachers(ts: TaskSet) -> dict[int, DecHDRQN]:
    return {
        k: DecHDRQN(mt_envs.make_vec("mamt_v0", 2, tasks=ts, sampler=fixed(k), seed=k), seed=k)
        for k in range(len(ts))
    }


def test_student_never_receives_the_task_id() -> None:
    ts = _mixed_set()
    venv = mt_envs.make_vec("mamt_v0", 6, tasks=ts, seed=0)
    model = PolicyDistillation(venv, _teachers(ts), seed=0, learning_starts=0)
    d = int(venv.single_observation_space.shape[0])
    seen: list[torch.Tensor] = []
    # The first layer's input is everything the student is given.
    hook = model.student.pre[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    model.learn(300)
    assert model.memories is not None and all(model.memories.sizes)  # both tasks collected
    assert seen, "the student was never trained"
    # Training inputs: observations only ([N, T * M, D]), no extra feature for a task id.
    assert all(x.shape[0] == 3 and x.shape[-1] == d for x in seen)
    # Predicting: observations of both tasks through the padded, task-agnostic path. The
    # student's input is exactly the observation batch.
    seen.clear()
    obs, info = venv.reset(seed=3, options={"task": np.array([0, 1, 0, 1, 0, 1])})
    actions, _ = model.predict(obs, deterministic=True, action_mask=info["action_mask"])
    assert actions.shape == (6, 3)
    np.testing.assert_array_equal(seen[-1].numpy(), obs.transpose(1, 0, 2))
    # Same observations, another task: the student cannot tell them apart.
    again, _ = model.predict(obs[::-1].copy(), deterministic=True)
    first, _ = model.predict(obs, deterministic=True)
    np.testing.assert_array_equal(again[::-1], first)
    # The padded third agent of a 2-agent task gets only STAY through the action mask.
    assert np.all(actions[info["agent_mask"] == 0] == 4)
    # The PettingZoo dict path of a 2-agent task (no third agent present).
    acts, _ = model.predict({"agent_0": obs[0, 0], "agent_1": obs[0, 1]}, deterministic=True)
    assert set(acts) == {"agent_0", "agent_1"}
    hook.remove()


def test_save_load_predict_and_evaluate(tmp_path: Path) -> None:
    ts = _mixed_set()
    venv = mt_envs.make_vec("mamt_v0", 4, tasks=ts, seed=0)
    teachers = _teachers(ts)
    teacher_file = teachers[1].save(tmp_path / "teacher1.zip")
    model = PolicyDistillation(
        venv, {0: teachers[0], ts[1].name: teacher_file}, seed=0, lstm_hidden=16
    )
    model.learn(200)
    assert model.student.lstm_hidden == 16 and model.pre_lstm == (32, 32)  # teacher's sizes
    path = model.save(tmp_path / "student.zip")
    obs, _ = venv.reset(seed=1)
    want, state = model.predict(obs, deterministic=True)
    loaded = load_model(path)  # no env: predict only; found through the algorithm name
    assert isinstance(loaded, PolicyDistillation)
    assert loaded.teacher_sources == {ts[0].name: "DecHDRQN", ts[1].name: str(teacher_file)}
    got, state2 = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(state2[0], state[0], atol=1e-6)
    res = evaluate_multitask(loaded, venv, n_episodes=2)
    assert [r["task"] for r in res.rows] == ts.names and res.mean["episodes"] == 4
    # Teachers are not in the file: continuing needs them again.
    again = PolicyDistillation.load(path, env=venv)
    with pytest.raises(ValueError, match="needs teachers"):
        again.learn(10)
    again.set_teachers({0: teachers[0], 1: teachers[1]})
    again.learn(100, reset_num_timesteps=False)
    assert again.num_timesteps == model.num_timesteps + 100
    with pytest.raises(ModelFileError, match="dec_hdrqn"):
        PolicyDistillation.load(teacher_file)


def test_rejects_bad_teachers_and_hyperparameters(tmp_path: Path) -> None:
    ts = _mixed_set()
    venv = mt_envs.make_vec("mamt_v0", 2, tasks=ts, seed=0)
    teachers = _teachers(ts)
    with pytest.raises(ValueError, match="have no teacher"):
        PolicyDistillation(venv, {0: teachers[0]})
    other = DecHDRQN(mt_envs.make_vec("mamt_v0", 2, tasks="mamt-2a-3to6", seed=0))
    with pytest.raises(ValueError, match="does not fit the env"):
        PolicyDistillation(venv, {0: teachers[0], 1: other})
    with pytest.raises(TypeError, match="DecHDRQN or PolicyDistillation"):
        PolicyDistillation(venv, {0: teachers[0], 1: object()})  # type: ignore[dict-item]
    with pytest.raises(ModelFileError):
        PolicyDistillation(venv, {0: teachers[0], 1: tmp_path / "missing.zip"})
    with pytest.raises(KeyError):
        PolicyDistillation(venv, {"no-such-task": teachers[0], 1: teachers[1]})
    for name, value in (
        ("temperature", 0.0),
        ("teacher_epsilon", 1.5),
        ("trace_length", 0),
        ("memory_episodes", 0),
        ("lstm_hidden", 0),
    ):
        with pytest.raises(ValueError, match=name):
            PolicyDistillation(venv, teachers, **{name: value})  # type: ignore[arg-type]


def test_distilling_one_teacher_reproduces_its_greedy_actions() -> None:
    """One teacher on one task: on held-out episodes (fresh seeds, played by the teacher
    greedily), the student picks a greedy action of the teacher on >= 95% of the observations.

    "Greedy" counts ties within the temperature: on the toroidal grid several moves are often
    equally good and the teacher's Q-values for them differ by less than 1e-3, so its argmax
    among them is arbitrary, and equation 6 at T = 0.01 gives them the same target. Measured
    with these budgets over seeds 0 and 1: 0.99-1.00 of the observations this way, 0.94-0.96
    for the exact argmax (asserted >= 0.9 as well). The misses are near-ties: where the
    teacher's best action leads the second by more than T, the student picks it on 0.994-0.995
    of the observations (seeds 0 and 2; asserted >= 0.98)."""
    task = CaptureTask.mast(3, n_agents=2, flicker=0.0)
    teacher = DecHDRQN(
        mt_envs.make_vec("mast_v0", 16, tasks=[task], seed=0), seed=0, learning_starts=500
    )
    teacher.learn(15_000)
    student = PolicyDistillation(
        mt_envs.make_vec("mast_v0", 16, tasks=[task], seed=1),
        {0: teacher},
        seed=0,
        learning_starts=500,
    )
    assert student.temperature == 0.01
    student.learn(6_000)
    held_out = mt_envs.make_vec("mast_v0", 16, tasks=[task], seed=12345)
    obs, info = held_out.reset()
    starts = np.ones(16, dtype=bool)
    s_teacher: tuple[torch.Tensor, torch.Tensor] | None = None
    s_student = None
    exact, near = [], []
    decisive = []  # observations where the teacher's best action leads by more than T
    for _ in range(300):
        if s_teacher is not None:
            keep = torch.as_tensor(~starts, dtype=torch.float32)[None, :, None]
            s_teacher = (s_teacher[0] * keep, s_teacher[1] * keep)
        with torch.no_grad():
            q, s_teacher = teacher.q_net.step(torch.as_tensor(obs).transpose(0, 1), s_teacher)
        q_np = q.transpose(0, 1).numpy()  # [B, N, A]
        a_teacher = q_np.argmax(axis=-1)
        a_student, s_student = student.predict(obs, s_student, starts, deterministic=True)
        live = info["agent_mask"]
        exact.append((a_teacher == a_student)[live])
        q_student_action = np.take_along_axis(q_np, a_student[..., None], axis=-1)[..., 0]
        near.append((q_np.max(axis=-1) - q_student_action <= student.temperature)[live])
        top2 = np.sort(q_np, axis=-1)[..., -2:]
        decisive.append((top2[..., 1] - top2[..., 0] > student.temperature)[live])
        obs, _r, _te, _tr, info = held_out.step(a_teacher)
        starts = info["_final"]
    rate, exact_rate = float(np.concatenate(near).mean()), float(np.concatenate(exact).mean())
    clear = np.concatenate(decisive)
    clear_rate = float(np.concatenate(exact)[clear].mean())
    assert clear.sum() > 1000, "too few observations with a clear greedy action"
    assert rate >= 0.95, f"the student plays a greedy action of its teacher on {rate:.3f}"
    assert exact_rate >= 0.9, f"the student matches the teacher's argmax on {exact_rate:.3f}"
    assert clear_rate >= 0.98, f"where the teacher's argmax is clear, matched on {clear_rate:.3f}"
