"""The torch modules the TorchScript tests trace (imported by conftest.py and the tests)."""

from __future__ import annotations

import torch


class Mlp(torch.nn.Module):
    def __init__(self, n_in=4, hidden=64, n_out=2):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.net(x)


class TanhPolicy(torch.nn.Module):
    """A deterministic actor: tanh-squashed, scaled actions."""

    def __init__(self, n_obs=8, n_act=3, scale=2.0):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_obs, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh())
        self.mu = torch.nn.Linear(64, n_act)
        self.scale = scale

    def forward(self, x):
        return torch.tanh(self.mu(self.body(x))) * self.scale


class Grid(torch.nn.Module):
    """A 2-D input per sample: (B, 2, 3) -> (B, 4)."""

    def __init__(self):
        super().__init__()
        self.mix = torch.nn.Parameter(torch.randn(3, 5) * 0.5)
        self.head = torch.nn.Linear(10, 4)

    def forward(self, x):
        return self.head(torch.tanh(x.matmul(self.mix)).flatten(1))


class ActorCritic(torch.nn.Module):
    """Two outputs in a tuple: action means (B, 3) and state value (B, 1)."""

    def __init__(self, n_obs=5):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_obs, 32), torch.nn.Tanh())
        self.actor = torch.nn.Linear(32, 3)
        self.critic = torch.nn.Linear(32, 1)

    def forward(self, x):
        h = self.body(x)
        return torch.tanh(self.actor(h)), self.critic(h)


class Argmax(torch.nn.Module):
    """Returns an int64 action index: not a float tensor."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.net(x).argmax(dim=1)


class FloatAndIndex(torch.nn.Module):
    """(float logits, int64 index): run() is fine, run_outputs() must refuse the index."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 3)

    def forward(self, x):
        y = self.net(x)
        return y, y.argmax(dim=1)


class DictOut(torch.nn.Module):
    def forward(self, x):
        return {"action": x * 2.0}


class Large(torch.nn.Module):
    """About 50 M parameters (~200 MB of float32)."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 4096), torch.nn.Tanh(), torch.nn.Linear(4096, 12288), torch.nn.Tanh(),
                                       torch.nn.Linear(12288, 2))

    def forward(self, x):
        return self.net(x)
