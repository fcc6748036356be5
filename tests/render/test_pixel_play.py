"""Play mode from pixels: a policy that does not fit the scene's image part is refused, naming the
part. That a CNN policy (SB3's CnnPolicy network) exported with export_policy acts in the engine
as in Python, from the same camera frames (the same seeded episodes, the same returns), is
checked by the pixel demo's test (test_pixel_demo.py: 10 episodes of its trained policy)."""

from __future__ import annotations

import torch

from godot_aigym.torch_export import export_policy


REACH = "res://envs/reach/reach.tscn"


def _play_log(policy_path, scene: str, godot) -> tuple[int, str]:
    from godot_aigym.display import rendering_launch_options, shared_display
    from godot_aigym.engine import GodotProcess, LaunchOptions
    from godot_aigym.env.project import demo_project

    options = rendering_launch_options(LaunchOptions(
        project=demo_project(), scene=scene, seed=0, fixed_fps=50,
        user_args=("--play", "--policy", str(policy_path), "--play-episodes", "1")), *shared_display(godot))
    with GodotProcess(options, godot=godot) as proc:
        return proc.wait(timeout=120), proc.log()


def test_play_refuses_a_policy_that_does_not_fit_the_image_part(display, tmp_path, godot):
    path = export_policy(torch.nn.Linear(5, 5), torch.zeros(1, 5), tmp_path / "five.jit")
    code, log = _play_log(path, REACH, godot)
    assert code != 0
    assert "takes 5 values per observation; the image part 'camera' of shape [42, 42, 3] has 5292" in log, log[-1500:]
    # an image beside other parts: refused at start, naming the parts
    code, log = _play_log(path, "res://envs/reach/reach_state.tscn", godot)
    assert code != 0 and "play mode feeds cTorchModel one image part" in log and "camera" in log, log[-1500:]
