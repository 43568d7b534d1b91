import json

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from dvtex.train.checkpoint import build_model, load_checkpoint, save_checkpoint
from dvtex.dynamics import spectral_norm, stationarity_residual
from dvtex.errors import UserError
from dvtex.export.exporter import FrameGraph
from dvtex.train.model import Decoder, DVAEConfig
from dvtex.player import load_model

from conftest import assert_user_error, run_module


def export(ckpt, out, *extra):
    proc = run_module("dvtex.export", ckpt, "-o", out, *extra)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("name", ["water", "digits"])
def test_onnx_runtime_matches_torch(checkpoints, tmp_path, name):
    out = tmp_path / f"{name}.onnx"
    proc = export(checkpoints[name], out)
    assert "verified" in proc.stdout and "grey level" in proc.stdout
    session, info = load_model(str(out), provider="cpu")
    model = build_model(load_checkpoint(str(checkpoints[name])))
    h = torch.randn(64, 10, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        want = ((model.decoder(h) + 1) * 127.5).round().clamp(0, 255).permute(0, 2, 3, 1).numpy()
    got = session.run(["frame"], {"h": h.numpy()})[0]
    assert got.shape == (64, 32, 32, 3) and got.dtype == np.uint8
    if want.shape[3] == 1:
        assert np.array_equal(got[..., 0], got[..., 2])  # grey replicated to RGB in the graph
        want = np.repeat(want, 3, axis=3)
    assert np.allclose(got.astype(float), want, atol=1.0)


def test_metadata_round_trip(checkpoints, tmp_path):
    out = tmp_path / "water.onnx"
    export(checkpoints["water"], out)
    ckpt = load_checkpoint(str(checkpoints["water"]))
    _, info = load_model(str(out), provider="cpu")
    assert (info.n, info.height, info.width, info.channels, info.fps) == (10, 32, 32, 3, 24.0)
    assert stationarity_residual(info.A, info.B) < 1e-9 and spectral_norm(info.A) < 1
    assert np.allclose(info.h0, ckpt["h0"].numpy(), atol=1e-6) and info.h0.shape == (16, 10)
    assert np.allclose(info.meta["A_learnt"], ckpt["model"]["A"].numpy(), atol=1e-6)
    assert info.meta["format"] == "dvtex-onnx/1" and info.meta["steps"] == 6
    assert info.meta["data"][0]["source"] == "procedural:water:40" and info.meta["sigma_y2"] == 8.0
    for key in ("lam", "residual_learnt", "dvtex_version", "created", "stabilized"):
        assert key in info.meta


def test_fp16_export_is_close(checkpoints, tmp_path):
    out32, out16 = tmp_path / "m32.onnx", tmp_path / "m16.onnx"
    export(checkpoints["water"], out32)
    export(checkpoints["water"], out16, "--fp16")
    h = np.random.default_rng(3).standard_normal((32, 10)).astype(np.float32)
    a = load_model(str(out32), "cpu")[0].run(None, {"h": h})[0].astype(int)
    b = load_model(str(out16), "cpu")[0].run(None, {"h": h})[0].astype(int)
    assert np.abs(a - b).max() <= 8 and np.abs(a - b).mean() < 0.5
    assert out16.stat().st_size < 0.7 * out32.stat().st_size


def test_unstationary_dynamics_are_stabilized(checkpoints, tmp_path):
    ckpt = load_checkpoint(str(checkpoints["water"]))
    ckpt["model"]["A"] = torch.eye(10) * 1.2
    save_checkpoint(ckpt, str(tmp_path / "wild.pt"))
    proc = export(tmp_path / "wild.pt", tmp_path / "wild.onnx")
    assert "not stationary" in proc.stdout and "stabilized" in proc.stdout
    _, info = load_model(str(tmp_path / "wild.onnx"), "cpu")
    assert stationarity_residual(info.A, info.B) < 1e-9 and spectral_norm(info.A) < 1
    assert info.meta["stabilized"]["applied"] and info.meta["residual_learnt"] > 1


def reference_decoder_forward(state, h, ds):
    """The reference implementation's Decoder.forward, written out on its raw state dict."""
    x = F.linear(h, state["decoder.dense.weight"], state["decoder.dense.bias"]).view(-1, 100, 1, 1)
    x = F.conv_transpose2d(x, state["decoder.deconv_first.weight"], state["decoder.deconv_first.bias"])
    i = 0
    while f"decoder.deconv_list.{i}.weight" in state:
        x = F.conv_transpose2d(F.relu(x), state[f"decoder.deconv_list.{i}.weight"],
                               state[f"decoder.deconv_list.{i}.bias"], stride=2, padding=1)
        i += 1
    return torch.tanh(F.interpolate(x, scale_factor=ds, mode="bilinear") if ds > 1 else x)


def test_reference_state_dict_imports(tmp_path):
    torch.manual_seed(0)
    cfg = DVAEConfig(size=64, channels=1, layers=5, kernel1=4, width=8)  # a 64x64 decoder for 128x128 frames
    state = {f"decoder.{k}": v for k, v in Decoder(cfg).state_dict().items()}
    for i, chan in enumerate([64, 32, 16, 8]):
        state[f"decoder.bn_list.{i}.weight"] = torch.ones(chan)  # present, unused, in the reference
    state["encoder.conv_first.weight"] = torch.zeros(8, 2, 4, 4)
    A = torch.randn(10, 10) * 0.2
    state["A"], state["B"] = A, torch.eye(10) * 0.5
    torch.save(state, tmp_path / "ref.pt")
    out = tmp_path / "ref.onnx"
    proc = run_module("dvtex.export", "--from-reference", tmp_path / "ref.pt", "--preset", "texture128", "-o", out)
    assert proc.returncode == 0, proc.stderr
    session, info = load_model(str(out), "cpu")
    assert (info.height, info.width, info.meta["net_width"]) == (128, 128, 8)
    assert np.allclose(info.meta["A_learnt"], A.numpy(), atol=1e-6)
    h = torch.randn(8, 10)
    want = ((reference_decoder_forward(state, h, 2) + 1) * 127.5).round().clamp(0, 255)[:, 0].numpy()
    got = session.run(None, {"h": h.numpy()})[0]
    assert np.abs(got[..., 0].astype(float) - want).max() <= 1


def _with_metadata(src, dst, **changes):
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    props.update({f"dvtex.{k}": json.dumps(v) for k, v in changes.items()})
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(dst))


def test_refusals(checkpoints, tmp_path):
    good = tmp_path / "good.onnx"
    export(checkpoints["water"], good)
    (tmp_path / "text.onnx").write_text("not a model")
    plain = tmp_path / "plain.onnx"
    torch.onnx.export(torch.nn.Linear(10, 3), (torch.zeros(1, 10),), str(plain), dynamo=False)
    _with_metadata(good, tmp_path / "newer.onnx", format="dvtex-onnx/2")
    _with_metadata(good, tmp_path / "liar.onnx", height=64)
    cases = [("missing.onnx", "no such model file"), ("text.onnx", "not a readable ONNX model"),
             ("plain.onnx", "without dvtex metadata"), ("newer.onnx", "newer than this dvtex"),
             ("liar.onnx", "disagree with the metadata")]
    for name, message in cases:
        with pytest.raises(UserError, match=message):
            load_model(str(tmp_path / name), "cpu")


def test_export_cli_refuses_bad_input(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 100)
    assert_user_error(run_module("dvtex.export", tmp_path / "none.pt"), "no such checkpoint")
    assert_user_error(run_module("dvtex.export", tmp_path / "junk.pt"), "not a readable dvtex checkpoint")
    assert_user_error(run_module("dvtex.export"), "give a checkpoint")
    assert_user_error(run_module("dvtex.export", "--from-reference", tmp_path / "junk.pt", "--preset", "cows64"),
                      "not a readable state dict")
    assert not list(tmp_path.glob("*.onnx"))


def test_graph_output_is_uint8_nhwc_rgb():
    dec = Decoder(DVAEConfig.from_preset("mnist32", width=8, channels=1)).eval()
    with torch.no_grad():
        y = FrameGraph(dec)(torch.randn(3, 10))
    assert y.dtype == torch.uint8 and y.shape == (3, 32, 32, 3)
