import pytest
import torch

from dvtex.train.model import DVAE, PRESETS, DVAEConfig, stationarity_penalty


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_build_and_shapes_match_the_paper(preset):
    cfg = DVAEConfig.from_preset(preset, width=8, channels=3)
    model = DVAE(cfg).eval()
    y = torch.rand(2, 6, cfg.size, cfg.size) * 2 - 1
    mu, logvar = model.encode(y)
    assert mu.shape == logvar.shape == (2, 2 * cfg.n)
    assert model.decoder(torch.randn(3, cfg.n)).shape == (3, 3, cfg.size, cfg.size)


def test_reference_parameter_names():
    names = set(DVAE(DVAEConfig.from_preset("cows64", width=8)).state_dict())
    for key in ("A", "B", "decoder.dense.weight", "decoder.deconv_first.weight", "decoder.deconv_list.3.weight",
                "encoder.conv_first.weight", "encoder.conv_last.weight"):
        assert key in names
    assert "decoder.deconv_list.4.weight" not in names  # layers - 1 transposed convolutions after the first


def test_dynamic_layer_is_F():
    model = DVAE(DVAEConfig.from_preset("mnist32", width=8))
    with torch.no_grad():
        model.A.copy_(torch.randn(10, 10))
        model.B.copy_(torch.randn(10, 10))
    x = torch.randn(4, 20)
    h1, h2 = model.dynamic_layer(x)
    assert torch.equal(h1, x[:, :10])
    assert torch.allclose(h2, x[:, :10] @ model.A.T + x[:, 10:] @ model.B.T)


def test_initial_A_B_are_stationary_and_penalty_sees_drift():
    model = DVAE(DVAEConfig.from_preset("mnist32", width=8))
    assert stationarity_penalty(model.A, model.B) < 1e-7
    assert stationarity_penalty(model.A * 1.1, model.B) > 1e-2


def test_masked_pixels_leave_the_likelihood():
    cfg = DVAEConfig.from_preset("mnist32", width=8, masked=True)
    model = DVAE(cfg).eval()
    y = torch.rand(3, 2, 32, 32) * 2 - 1
    mask = (torch.rand(3, 2, 32, 32) > 0.5).float()
    scrambled = torch.where(mask.bool(), y, torch.rand_like(y) * 2 - 1)
    torch.manual_seed(0)
    a = model(y, mask)
    torch.manual_seed(0)
    b = model(scrambled, mask)
    assert torch.allclose(a["loss"], b["loss"]) and torch.allclose(a["rec"], b["rec"])
    torch.manual_seed(0)
    assert not torch.allclose(model(scrambled)["rec"], model(y)["rec"])


def test_loss_terms_and_monte_carlo_samples():
    cfg = DVAEConfig.from_preset("mnist32", width=8)
    model = DVAE(cfg)
    y = torch.rand(2, 2, 32, 32) * 2 - 1
    terms = model(y, samples=16)
    assert set(terms) == {"loss", "rec", "kl", "stat", "texture"}
    assert terms["texture"].item() == 0.0  # the paper's recipe: the ELBO and the penalty alone
    expect = terms["rec"] + terms["kl"] + cfg.lam * terms["stat"]
    assert torch.allclose(terms["loss"], expect)
    terms["loss"].backward()
    assert model.A.grad is not None and model.decoder.dense.weight.grad is not None


def test_bad_size_is_refused():
    with pytest.raises(ValueError):
        DVAEConfig(size=60, layers=5, kernel1=4)
