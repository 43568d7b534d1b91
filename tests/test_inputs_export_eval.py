"""dvtex-export and dvtex-eval against bad input: one line, status 2, nothing written."""

import os

import pytest
import torch

from dvtex.eval.cli import main as eval_main
from dvtex.export.cli import main as export_main

from conftest import assert_refused, assert_user_error, run_module

EVAL = [
    (["textures", "procedural:fire", "--steps", "0"], "--steps"), (["textures", "procedural:fire", "--minutes", "nan"], "--minutes"),
    (["textures", "procedural:fire", "--minutes", "0"], "--minutes"), (["textures", "procedural:fire", "--width", "0"], "--width"),
    (["textures", "procedural:fire", "--width", "7"], "--width 7"), (["digits", "--seed", "-1"], "--seed"),
    (["textures", "procedural:fire", "--fid-frames", "-1"], "--fid-frames"), (["digits", "--seeds", "0"], "--seeds"),
    (["textures", "procedural:fire", "--long-run", "1"], "--long-run"), (["digits", "--snapshot-every", "-1"], "--snapshot-every"),
    (["digits", "--snapshot-every", "nan"], "--snapshot-every"), (["digits", "--frames", "1"], "--frames"),
    (["textures", "procedural:fire:-5", "--steps", "2"], "frame count"), (["textures", "procedural:smoke"], "unknown texture"),
    (["incomplete", "procedural:fire", "--mask", "x:1"], "--mask"), (["incomplete", "procedural:fire", "--mask", "rect:2"], "--mask"),
    (["textures", "procedural:fire", "--sigma-y2", "inf"], "--sigma-y2"), (["textures", "procedural:fire", "--preset", "x"], "--preset"),
    (["textures", "procedural:fire", "--out", "{tmp}/file"], "is a file"),
    (["digits", "--json", "{tmp}/missing/d.json"], "--json"), (["digits", "--json", "{tmp}"], "--json"),
]


@pytest.mark.parametrize("argv, fragment", EVAL, ids=[" ".join(a) for a, _ in EVAL])
def test_eval_refuses_bad_input_before_training(capsys, tmp_path, argv, fragment):
    (tmp_path / "file").write_text("x")
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    line = assert_refused(capsys, eval_main, argv, fragment)
    assert "None" not in line  # never blames an option the user did not give
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_export_refuses_bad_options_and_files(capsys, tmp_path, checkpoints):
    import pickle

    ckpt = str(checkpoints["water"])
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 100)
    (tmp_path / "dir.onnx").mkdir()
    torch.save({"A": torch.eye(3), "B": torch.eye(4), "decoder.dense.weight": torch.zeros(100, 3),
                "decoder.deconv_first.weight": torch.zeros(100, 8, 4, 4)}, tmp_path / "odd.pt")
    torch.save({"A": torch.full((10, 10), float("nan")), "B": torch.eye(10), "decoder.dense.weight": torch.zeros(100, 10),
                "decoder.deconv_first.weight": torch.zeros(100, 8, 4, 4)}, tmp_path / "nan.pt")
    torch.save({"A": torch.eye(10), "B": torch.eye(10), "decoder.dense.weight": torch.zeros(100, 10),
                "decoder.deconv_first.weight": torch.zeros(100, 8, 4, 4)}, tmp_path / "nolayers.pt")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "dvtex-checkpoint/2", "x": Evil()}, f)
    cases = [([ckpt, "--opset", "5"], "--opset"), ([ckpt, "--opset", "99"], "--opset"), ([ckpt, "--opset", "x"], "--opset"),
             ([ckpt, "-o", tmp_path / "x.mp4"], ".onnx"), ([ckpt, "-o", tmp_path / "no" / "x.onnx"], "does not exist"),
             ([ckpt, "-o", tmp_path / "dir.onnx"], "is a folder"), ([tmp_path / "none.pt"], "no such checkpoint"),
             ([tmp_path], "is a folder"), ([tmp_path / "junk.pt"], "not a readable dvtex checkpoint"),
             ([tmp_path / "evil.pt"], "not a readable dvtex checkpoint"),
             (["--from-reference", tmp_path / "odd.pt"], "--preset"),
             (["--from-reference", tmp_path / "odd.pt", "--preset", "cows64", "--fps", "0"], "--fps"),
             (["--from-reference", tmp_path / "odd.pt", "--preset", "cows64"], "square"),
             (["--from-reference", tmp_path / "nan.pt", "--preset", "cows64"], "finite"),
             (["--from-reference", tmp_path / "nolayers.pt", "--preset", "cows64"], "deconv_list"),
             (["--from-reference", tmp_path / "evil.pt", "--preset", "cows64"], "not a readable state dict")]
    for argv, fragment in cases:
        line = assert_refused(capsys, export_main, argv, fragment)
        assert "owned" not in line
    assert not list(tmp_path.glob("*.onnx*")) or sorted(p.name for p in tmp_path.glob("*.onnx")) == ["dir.onnx"]


def test_a_malicious_checkpoint_is_refused_whole_in_one_line(tmp_path):
    """Pickled code, as torch.save and as a plain pickle: refused in one whole line (no torch warnings
    before it, no message cut mid-word), and the code never runs."""
    import subprocess
    import sys

    code = (f"import os, pickle, torch\nclass Evil:\n    def __reduce__(self): return (os.system, ('touch {tmp_path}/owned',))\n"
            f"torch.save({{'x': Evil()}}, '{tmp_path}/zip.pt')\npickle.dump({{'x': Evil()}}, open('{tmp_path}/plain.pt', 'wb'))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    for name, fragment in (("zip.pt", "holds pickled code (posix.system) that dvtex never runs"),
                           ("plain.pt", "is not a readable dvtex checkpoint")):
        proc = run_module("dvtex.export", tmp_path / name)
        line = assert_user_error(proc, fragment)
        assert line.endswith("give a checkpoint written by dvtex-train")
        proc = run_module("dvtex.train", "procedural:fire:20", "-o", tmp_path / name, "--resume")
        assert_user_error(proc, fragment)
    assert not (tmp_path / "owned").exists()
