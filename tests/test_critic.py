"""The frame-pair critic (dvtex.train.critic): what it scores, where its two terms' gradients go, that
it learns to tell decoded pairs from real ones, its augmentations, and `--critic` end to end."""

import json

import onnx
import pytest
import torch

from dvtex.train.critic import Critic, adaptive_weight, critic_losses, cut_out, translated
from dvtex.train.model import DVAE, DVAEConfig

from conftest import assert_user_error, run_module

SMALL = dict(size=32, layers=4, width=8, channels=3, likelihood="learnt")


@pytest.mark.parametrize("kernel1_w", [0, 7])
def test_the_critic_scores_each_pair_of_square_and_wide_frames(kernel1_w):
    cfg = DVAEConfig(**SMALL, kernel1_w=kernel1_w)
    height, width = cfg.frame_shape
    scores = Critic(cfg)(torch.rand(5, 6, height, width))
    assert scores.shape == (5,)


def test_the_generator_term_reaches_the_decoder_only_and_the_critic_term_the_critic_only():
    torch.manual_seed(0)
    model = DVAE(DVAEConfig(**SMALL, critic=1.0))
    fake = model.decoder(torch.randn(8, 10)).repeat(1, 2, 1, 1)  # (8, 6, 32, 32)
    generator, judged = critic_losses(model.critic, fake, torch.rand(8, 6, 32, 32) * 2 - 1)
    generator.backward(retain_graph=True)
    assert all(p.grad is None for p in model.critic.parameters())
    assert model.decoder.dense.weight.grad.abs().sum() > 0
    model.decoder.zero_grad()
    judged.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.decoder.parameters())
    assert sum(p.grad.abs().sum() for p in model.critic.parameters()) > 0


def test_the_critic_learns_to_tell_decoded_pairs_from_real_ones():
    torch.manual_seed(0)
    cfg = DVAEConfig(**SMALL)
    real = torch.sin(torch.linspace(0, 12, 32))[None, None, None, :].expand(16, 6, 32, 32)  # stripes
    fake = torch.rand(16, 6, 32, 32) * 0.2  # grey noise
    critic = Critic(cfg)
    opt = torch.optim.Adam(critic.parameters(), lr=4e-4, betas=(0.5, 0.999))
    first = None
    for _ in range(60):
        _, judged = critic_losses(critic, fake, real)
        first = judged.item() if first is None else first
        opt.zero_grad()
        judged.backward()
        opt.step()
    assert first > 1.5 and judged.item() < 0.5  # the hinge at about 2 untrained, near 0 once it separates them
    with torch.no_grad():
        assert (critic(real) > critic(fake)).all()


def test_the_adaptive_weight_follows_the_reconstruction_gradient():
    torch.manual_seed(0)
    w = torch.randn(4, 4, requires_grad=True)
    x = torch.randn(8, 4)
    rec, generator = ((x @ w) ** 2).sum(), (x @ w).sum()
    one = adaptive_weight(rec, generator, w, 1.0)
    assert adaptive_weight(10 * rec, generator, w, 1.0) == pytest.approx(10 * one.item(), rel=1e-5)
    assert adaptive_weight(rec, generator, w, 0.1) == pytest.approx(0.1 * one.item(), rel=1e-5)
    assert not one.requires_grad


def test_a_model_without_a_critic_has_none_and_the_same_parameter_groups():
    model = DVAE(DVAEConfig(**SMALL))
    assert not hasattr(model, "critic") and len(model.parameter_groups(1e-3, 1e-2)) == 2
    groups = DVAE(DVAEConfig(**SMALL, critic=1.0)).parameter_groups(1e-3, 1e-2)
    assert len(groups) == 3 and groups[2]["betas"] == (0.5, 0.999)
    assert not any(p is q for p in groups[0]["params"] for q in groups[2]["params"])


def test_a_critic_weight_is_trained_with_recorded_exported_and_resumed(tmp_path):
    from dvtex.train import TrainConfig, train

    config = TrainConfig(sources=["procedural:fire:40"], output=str(tmp_path / "c.pt"), preset="mnist32", width=8,
                         batch=8, steps=3, preview_every=0, recipe="sharp", critic=1.0)
    first = {k: v.clone() for k, v in DVAE(config.resolved().model_config(3)).critic.state_dict().items()}
    ckpt = train(config)
    assert ckpt["config"]["critic"] == 1.0 and ckpt["train_config"]["critic"] == 1.0
    learnt = {k[len("critic."):]: v for k, v in ckpt["model"].items() if k.startswith("critic.")}
    assert learnt.keys() == first.keys()
    assert any(not torch.equal(first[k], learnt[k]) for k in learnt)  # the critic trained too
    proc = run_module("dvtex.export", config.output, "-o", tmp_path / "c.onnx")
    assert proc.returncode == 0, proc.stderr
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(tmp_path / "c.onnx")).metadata_props}
    assert meta["dvtex.critic"] == 1.0
    config.steps, config.resume = 5, True
    assert train(config)["step"] == 5


def test_a_critic_on_a_baseline_is_refused_before_any_work(tmp_path):
    proc = run_module("dvtex.train", "procedural:fire:40", "--method", "vae+var", "--critic", "1", "-o", tmp_path / "v.pt")
    assert_user_error(proc, "--critic")
    assert not (tmp_path / "v.pt").exists()


def test_the_translation_shifts_both_frames_of_a_pair_alike_and_lets_zeros_in():
    torch.manual_seed(0)
    pair = torch.rand(64, 6, 16, 16) + 1  # no zeros of its own
    moved = translated(pair)
    for item, out in zip(pair, moved):
        hits = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                if torch.equal(out[:, max(dy, 0):16 + min(dy, 0), max(dx, 0):16 + min(dx, 0)],
                               item[:, max(-dy, 0):16 + min(-dy, 0), max(-dx, 0):16 + min(-dx, 0)])]
        assert len(hits) == 1  # one shift of at most 16 / 8 pixels, the same for all six channels
        dy, dx = hits[0]
        assert (out == 0).sum() == 6 * (16 * 16 - (16 - abs(dy)) * (16 - abs(dx)))
    assert len({tuple(map(int, torch.nonzero(m[0] == 0).sum(0))) for m in moved}) > 5  # shifts vary


def test_the_cutout_blanks_one_square_half_the_side_and_passes_gradients():
    pair = (torch.rand(8, 6, 16, 16) + 1).requires_grad_()
    out = cut_out(pair)
    assert ((out == 0).sum(dim=(1, 2, 3)) == 6 * 8 * 8).all()
    out.sum().backward()
    assert (pair.grad.sum(dim=(1, 2, 3)) == 6 * (16 * 16 - 64)).all()
