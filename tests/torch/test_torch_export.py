"""godot_aigym.export_policy, on the Python side: what it writes, what it checks, what it refuses."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
# torch >= 2.10 marks every torch.jit function deprecated; TorchScript is what the game runs.
pytestmark = pytest.mark.filterwarnings("ignore:`torch\\.jit\\.:DeprecationWarning")

import godot_aigym  # noqa: E402
from godot_aigym.torch_export import ExportError, export_policy, read_export_info  # noqa: E402

from torch_test_models import ActorCritic, Argmax, Grid, Mlp  # noqa: E402


def test_lazy_attribute_is_the_function():
    assert godot_aigym.export_policy is export_policy


def test_trace_writes_a_reloadable_file_with_its_shapes(tmp_path):
    torch.manual_seed(0)
    module = Mlp()
    path = export_policy(module, torch.zeros(1, 4), tmp_path / "sub" / "mlp.jit")
    assert path == tmp_path / "sub" / "mlp.jit" and path.is_file()
    info = read_export_info(path)
    assert info["input_shape"] == "4" and info["output_sizes"] == "2" and info["format"] == "1"
    assert info["exporter"].startswith(f"godot_aigym {godot_aigym.__version__}, torch ")
    x = torch.randn(10, 4)
    with torch.no_grad():
        assert torch.equal(torch.jit.load(str(path))(x), module(x))


def test_one_sample_example_and_non_flat_shapes(tmp_path):
    info = read_export_info(export_policy(Mlp(), torch.zeros(4), tmp_path / "flat.jit"))
    assert info["input_shape"] == "4", "a 1-D example is one sample"
    info = read_export_info(export_policy(Grid(), torch.zeros(3, 2, 3), tmp_path / "grid.jit"))
    assert info["input_shape"] == "2,3" and info["output_sizes"] == "4"
    info = read_export_info(export_policy(ActorCritic(), torch.zeros(2, 5), tmp_path / "ac.jit"))
    assert info["output_sizes"] == "3,1"


def test_script_and_freeze(tmp_path):
    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(4, 2)

        def forward(self, x):
            y = self.net(x)
            if bool(y.sum() > 0):
                return y
            return -y

    module = Branchy()
    path = export_policy(module, torch.randn(1, 4), tmp_path / "scripted.jit", method="script")
    x = torch.randn(6, 4)
    with torch.no_grad():
        assert torch.equal(torch.jit.load(str(path))(x), module(x))
    frozen = export_policy(Mlp(), torch.zeros(1, 4), tmp_path / "frozen.jit", freeze=True)
    assert not list(torch.jit.load(str(frozen)).parameters()), "freeze turns parameters into constants"


def test_a_trace_that_does_not_generalise_is_refused(tmp_path):
    class SignFlip(torch.nn.Module):  # data-dependent branch: a trace keeps only one side
        def forward(self, x):
            return x * 2 if bool(x.sum() > 0) else x * -3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer warns about the branch itself
        with pytest.raises(ExportError, match="differs after export"):
            export_policy(SignFlip(), torch.ones(1, 4), tmp_path / "flip.jit")


def test_eval_mode_for_export_and_training_flag_restored(tmp_path):
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
    module.train()
    path = export_policy(module, torch.zeros(1, 4), tmp_path / "dropout.jit")
    assert module.training, "the caller's training flag is restored"
    x = torch.randn(5, 4)
    model = torch.jit.load(str(path))
    with torch.no_grad():
        assert torch.equal(model(x), model(x)), "dropout is off in the exported model"


def test_refusals(tmp_path):
    with pytest.raises(ExportError, match="floating-point outputs"):
        export_policy(Argmax(), torch.zeros(1, 4), tmp_path / "argmax.jit")
    with pytest.raises(ExportError, match="float32"):
        export_policy(Mlp(), torch.zeros(1, 4, dtype=torch.float64), tmp_path / "f64.jit")
    with pytest.raises(ExportError, match="torch.Tensor"):
        export_policy(Mlp(), [0.0, 0.0, 0.0, 0.0], tmp_path / "list.jit")
    with pytest.raises(ValueError, match="trace"):
        export_policy(Mlp(), torch.zeros(1, 4), tmp_path / "x.jit", method="compile")



def test_a_stable_baselines3_policy_is_refused_naming_its_actor(tmp_path):
    # was "output 0 is a torch.int64 tensor ... cast it": a cast policy would always play action 0
    import gymnasium as gym
    import stable_baselines3 as sb3

    model = sb3.PPO("MlpPolicy", gym.make("CartPole-v1"), device="cpu")
    with pytest.raises(ExportError, match=r"ActorCriticPolicy is a Stable-Baselines3 policy, .*export its actor"):
        export_policy(model.policy, torch.zeros(1, 4), tmp_path / "p.jit")
    policy = model.policy

    class Actor(torch.nn.Module):  # what the message says, exported as it says
        def __init__(self):
            super().__init__()
            self.policy = policy

        def forward(self, obs):
            p = self.policy
            return p.action_net(p.mlp_extractor.forward_actor(p.extract_features(obs, p.pi_features_extractor)))

    obs = torch.randn(5, 4)
    export_policy(Actor(), torch.zeros(1, 4), tmp_path / "actor.jit")
    logits = torch.jit.load(str(tmp_path / "actor.jit"))(obs)
    assert torch.equal(logits.argmax(dim=1), policy.get_distribution(obs).distribution.probs.argmax(dim=1))
