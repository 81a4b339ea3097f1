"""The DRQN of paper 000 for ``N`` agents, evaluated as one batched computation.

Each agent ``i`` owns a DRQN (section 6.1)::

    obs -> Linear 32 -> ReLU -> Linear 32 -> ReLU -> LSTM 64 -> Linear 32 -> ReLU -> Linear |A|

Instead of ``N`` small networks called in a Python loop, the ``N`` networks are *grouped*: every
weight carries a leading agent axis (``[N, in, out]``) and a layer is one ``torch.baddbmm`` over all
agents at once. The LSTM cell is written with the same batched matrix products. Agents still share
nothing: agent ``i``'s outputs depend only on slice ``i`` of every weight, and its gradients land
only there. With ``share_parameters=True`` there is a single group, every agent's observation gets
its one-hot agent id appended, and all agents run through the one network (Dec-DRQN-PS of
supplement C).

Shapes: ``N`` agents, ``T`` time steps, ``M`` rows (environments or traces), ``D`` observation
size, ``A`` actions, ``H`` LSTM size. Sequences are time-major per agent: ``[N, T, M, D]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

#: Recurrent state of all agents: ``(h, c)``, each ``float [N, M, H]``.
RecurrentState = tuple[torch.Tensor, torch.Tensor]


class GroupedLinear(nn.Module):
    """``G`` independent affine maps applied at once: ``y[g] = x[g] @ weight[g] + bias[g]``.

    Initialised as :class:`torch.nn.Linear` (uniform in ``+-1/sqrt(in_features)``), per group.

    Args:
        groups: Number of independent maps ``G``.
        in_features: Input size.
        out_features: Output size.
    """

    def __init__(self, groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.groups, self.in_features, self.out_features = groups, in_features, out_features
        self.weight = nn.Parameter(torch.empty(groups, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(groups, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weights and biases uniformly in ``+-1/sqrt(in_features)``."""
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` of shape ``[G, R, in_features]`` to ``[G, R, out_features]``."""
        return torch.baddbmm(self.bias, x, self.weight)


class GroupedLSTM(nn.Module):
    """``G`` independent single-layer LSTMs unrolled together with batched matrix products.

    The cell is the standard one (:class:`torch.nn.LSTM`): ``i, f, o = sigmoid(.)``,
    ``g = tanh(.)``, ``c' = f * c + i * g``, ``h' = o * tanh(c')``. Internally the four gate
    blocks are stored in the order ``(i, f, o, g)`` (one sigmoid over three blocks), and one
    bias replaces PyTorch's two (``b_ih + b_hh``). Initialised uniform in ``+-1/sqrt(hidden)``.

    Args:
        groups: Number of independent LSTMs ``G``.
        input_size: Input size.
        hidden_size: Memory cells ``H``.
    """

    def __init__(self, groups: int, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.groups, self.input_size, self.hidden_size = groups, input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(groups, input_size, 4 * hidden_size))
        self.weight_hh = nn.Parameter(torch.empty(groups, hidden_size, 4 * hidden_size))
        self.bias = nn.Parameter(torch.empty(groups, 1, 4 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias uniformly in ``+-1/sqrt(hidden_size)``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.bias):
            nn.init.uniform_(p, -bound, bound)

    def forward(
        self, x: torch.Tensor, state: RecurrentState
    ) -> tuple[torch.Tensor, RecurrentState]:
        """Unroll over time.

        Args:
            x: Inputs ``[G, T, R, input_size]``.
            state: ``(h, c)``, each ``[G, R, hidden_size]``.

        Returns:
            The outputs ``h_t`` as ``[G, T, R, hidden_size]`` and the final ``(h, c)``.
        """
        g, t_len, r, _ = x.shape
        hs = self.hidden_size
        # The input projection of every step in one product; only h @ W_hh stays in the loop.
        xw = torch.baddbmm(self.bias, x.reshape(g, t_len * r, -1), self.weight_ih)
        xw = xw.view(g, t_len, r, 4 * hs)
        h, c = state
        outputs = []
        for t in range(t_len):
            gates = torch.baddbmm(xw[:, t], h, self.weight_hh)
            ifo = torch.sigmoid(gates[..., : 3 * hs])
            cand = torch.tanh(gates[..., 3 * hs :])
            c = ifo[..., hs : 2 * hs] * c + ifo[..., :hs] * cand
            h = ifo[..., 2 * hs :] * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, c)


class DRQNNetwork(nn.Module):
    """The DRQNs of all agents: ``obs -> MLP -> LSTM -> MLP -> Q`` (ReLU; last layer linear).

    Args:
        obs_dim: Size ``D`` of one agent's observation.
        n_actions: Number of actions ``A``.
        n_agents: Number of agents ``N``.
        share_parameters: One network for all agents, with a one-hot agent id appended to each
            observation (Dec-DRQN-PS), instead of one network per agent.
        pre_lstm: Hidden sizes of the layers before the LSTM (paper: ``(32, 32)``).
        lstm_hidden: LSTM memory cells ``H`` (paper: 64).
        post_lstm: Hidden sizes of the layers between the LSTM and the output (paper: ``(32,)``).

    Raises:
        ValueError: If a size is not a positive int.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        n_agents: int,
        share_parameters: bool = False,
        pre_lstm: Sequence[int] = (32, 32),
        lstm_hidden: int = 64,
        post_lstm: Sequence[int] = (32,),
    ) -> None:
        super().__init__()
        for name, value in (
            ("obs_dim", obs_dim),
            ("n_actions", n_actions),
            ("n_agents", n_agents),
            ("lstm_hidden", lstm_hidden),
            *(("pre_lstm", v) for v in pre_lstm),
            *(("post_lstm", v) for v in post_lstm),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"DRQNNetwork {name}={value!r} is invalid: need an int >= 1")
        self.obs_dim, self.n_actions, self.n_agents = obs_dim, n_actions, n_agents
        self.share_parameters = bool(share_parameters)
        self.lstm_hidden = lstm_hidden
        groups = 1 if self.share_parameters else n_agents
        self.groups = groups
        size = obs_dim + (n_agents if self.share_parameters else 0)
        pre = []
        for width in pre_lstm:
            pre.append(GroupedLinear(groups, size, width))
            size = width
        self.pre = nn.ModuleList(pre)
        self.lstm = GroupedLSTM(groups, size, lstm_hidden)
        size = lstm_hidden
        post = []
        for width in post_lstm:
            post.append(GroupedLinear(groups, size, width))
            size = width
        self.post = nn.ModuleList(post)
        self.out = GroupedLinear(groups, size, n_actions)
        self.agent_ids: torch.Tensor
        self.register_buffer("agent_ids", torch.eye(n_agents), persistent=False)

    def initial_state(
        self, rows: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> RecurrentState:
        """The zero recurrent state ``(h, c)``, each ``[N, rows, H]`` (the weights' device and
        dtype unless given)."""
        weight = self.out.weight
        shape = (self.n_agents, rows, self.lstm_hidden)
        dev, dt = device or weight.device, dtype or weight.dtype
        return torch.zeros(shape, device=dev, dtype=dt), torch.zeros(shape, device=dev, dtype=dt)

    def forward(
        self, obs: torch.Tensor, state: RecurrentState | None = None
    ) -> tuple[torch.Tensor, RecurrentState]:
        """Q-values of every agent along sequences.

        Args:
            obs: Observations ``float [N, T, M, D]``.
            state: ``(h, c)`` before the first step, each ``[N, M, H]``; ``None`` is zeros.

        Returns:
            ``q`` of shape ``[N, T, M, A]`` and the state after the last step.
        """
        n, t_len, m, _ = obs.shape
        if state is None:
            state = self.initial_state(m, obs.device, obs.dtype)
        h, c = state
        if self.share_parameters:
            ids = self.agent_ids[:, None, None, :].expand(n, t_len, m, n)
            x = torch.cat([obs, ids], dim=-1).transpose(0, 1).reshape(1, t_len, n * m, -1)
            h, c = h.reshape(1, n * m, -1), c.reshape(1, n * m, -1)
        else:
            x = obs
        g, _, r, _ = x.shape
        z = x.reshape(g, t_len * r, -1)
        for layer in self.pre:
            z = torch.relu(layer(z))
        z, (h, c) = self.lstm(z.view(g, t_len, r, -1), (h, c))
        z = z.reshape(g, t_len * r, -1)
        for layer in self.post:
            z = torch.relu(layer(z))
        q = self.out(z).view(g, t_len, r, -1)
        if self.share_parameters:
            q = q.view(t_len, n, m, -1).transpose(0, 1)
            h, c = h.view(n, m, -1), c.view(n, m, -1)
        return q, (h, c)

    def step(
        self, obs: torch.Tensor, state: RecurrentState | None = None
    ) -> tuple[torch.Tensor, RecurrentState]:
        """One step: ``obs [N, M, D]`` -> ``q [N, M, A]`` and the new state."""
        q, state = self.forward(obs.unsqueeze(1), state)
        return q.squeeze(1), state
