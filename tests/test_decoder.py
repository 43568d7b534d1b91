"""The decoder's 2x steps (--decoder): the paper's transposed convolutions, or a nearest resize and a 3x3
convolution; trained, checkpointed, exported and resumed as what it is."""

import json

import onnx
import torch
import torch.nn.functional as F

from dvtex.train.checkpoint import load_checkpoint, save_checkpoint
from dvtex.train.model import Decoder, DVAEConfig

from conftest import assert_user_error, run_module

TINY = ["procedural:fire:40", "--preset", "mnist32", "--width", "8", "--batch", "8", "--preview-every", "0"]


def test_the_resize_decoder_draws_frames_of_the_same_size_under_the_same_names():
    cfg = DVAEConfig(size=32, layers=4, width=8, channels=3)
    dcgan, resize = Decoder(cfg), Decoder(DVAEConfig(**{**cfg.to_dict(), "decoder": "resize"}))
    assert set(dcgan.state_dict()) == set(resize.state_dict())
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in resize.deconv_list)
    h = torch.randn(5, cfg.n)
    assert dcgan(h).shape == resize(h).shape == (5, 3, 32, 32)


def test_a_resize_step_is_a_nearest_resize_and_a_3x3_convolution_border_included():
    torch.manual_seed(0)
    decoder = Decoder(DVAEConfig(size=32, layers=4, width=8, channels=3, decoder="resize"))
    x = torch.randn(2, 32, 5, 7)
    conv = decoder.deconv_list[0]
    expected = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), conv.weight, conv.bias, padding=1)
    assert torch.allclose(decoder.step(0, x), expected, atol=1e-5)


def test_folding_the_resize_steps_for_export_keeps_the_frames():
    torch.manual_seed(0)
    decoder = Decoder(DVAEConfig(size=32, layers=4, width=8, channels=3, decoder="resize")).eval()
    h = torch.randn(4, decoder.dense.in_features)
    before = decoder(h).detach()
    decoder.fold_resize_steps()
    assert all(isinstance(m, torch.nn.ConvTranspose2d) for m in decoder.deconv_list)
    assert torch.allclose(decoder(h), before, atol=1e-6)


def test_a_resize_step_draws_no_checkerboard_on_a_flat_map():
    """A flat feature map through one 2x step: the transposed convolution's output alternates with the
    pixels' parity (its 4x4 kernel's taps differ), the resize step's is flat away from the border."""
    torch.manual_seed(0)
    cfg = DVAEConfig(size=32, layers=4, width=8, channels=3)
    flat = torch.ones(1, 32, 8, 8)
    for kind, uneven in (("dcgan", True), ("resize", False)):
        decoder = Decoder(DVAEConfig(**{**cfg.to_dict(), "decoder": kind}))
        inner = decoder.step(0, flat)[0, :, 1:-1, 1:-1].detach()  # (C, 14, 14): away from the zero padding
        spread = (inner - inner.mean((1, 2), keepdim=True)).abs().max().item()
        assert (spread > 1e-3) == uneven, (kind, spread)


def test_resize_trains_exports_and_resumes_as_itself(tmp_path):
    out = tmp_path / "m.pt"
    proc = run_module("dvtex.train", *TINY, "-o", out, "--steps", "3", "--decoder", "resize", "--recipe", "sharp")
    assert proc.returncode == 0, proc.stderr
    ckpt = load_checkpoint(out)
    assert ckpt["config"]["decoder"] == "resize" and ckpt["train_config"]["decoder"] == "resize"
    assert ckpt["model"]["decoder.deconv_list.0.weight"].shape[2:] == (3, 3)
    onnx_path = tmp_path / "m.onnx"
    proc = run_module("dvtex.export", out, "-o", onnx_path)
    assert proc.returncode == 0 and "verified" in proc.stdout, proc.stderr  # ONNX Runtime matches torch
    graph = onnx.load(str(onnx_path))
    meta = {p.key: json.loads(p.value) for p in graph.metadata_props}
    assert meta["dvtex.decoder"] == "resize"
    ops = [node.op_type for node in graph.graph.node]  # folded at export: the paper's graph, no kernels built
    assert "Einsum" not in ops and ops.count("ConvTranspose") == 4, ops
    before = out.read_bytes()
    assert_user_error(run_module("dvtex.train", *TINY, "-o", out, "--resume", "--steps", "4", "--recipe", "sharp",
                                 "--decoder", "dcgan"), "--decoder")
    assert out.read_bytes() == before
    proc = run_module("dvtex.train", *TINY, "-o", out, "--resume", "--steps", "4")
    assert proc.returncode == 0, proc.stderr
    assert load_checkpoint(out)["config"]["decoder"] == "resize"


def test_checkpoints_from_before_the_option_load_with_the_papers_decoder(tmp_path):
    out = tmp_path / "old.pt"
    assert run_module("dvtex.train", *TINY, "-o", out, "--steps", "2").returncode == 0
    ckpt = load_checkpoint(out)
    for key in ("config", "train_config"):
        del ckpt[key]["decoder"]
    save_checkpoint(ckpt, out)
    assert load_checkpoint(out)["config"]["decoder"] == "dcgan"
    assert run_module("dvtex.export", out, "-o", tmp_path / "old.onnx").returncode == 0
