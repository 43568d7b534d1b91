"""The layers and the installs: what may import torch, and what a play-only install can do."""

import os
import pkgutil
import subprocess
import sys

import av
import pytest

import dvtex
import dvtex.player

from conftest import ROOT, assert_user_error

BLOCK_TORCH = "import sys; sys.modules['torch'] = None\n"


def run_python(code, cwd, **kw):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, **kw)


def test_five_packages_and_no_generic_top_level_modules(tmp_path):
    ok = run_python("import dvtex, dvtex.train, dvtex.eval, dvtex.export, dvtex.player; print(dvtex.player.__file__)",
                    tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("player/__init__.py")
    for name in ("export", "player", "train"):
        proc = run_python(f"import {name}", tmp_path)
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


def torch_free_modules():
    """dvtex's top level (not its train/eval sub-packages) and every module of the player."""
    top = [f"dvtex.{m.name}" for m in pkgutil.iter_modules(dvtex.__path__) if not m.ispkg]
    player = [f"dvtex.player.{m.name}" for m in pkgutil.iter_modules(dvtex.player.__path__) if m.name != "__main__"]
    return ["dvtex"] + top + player


def test_the_torch_free_layer_imports_with_torch_blocked(tmp_path):
    modules = torch_free_modules()
    assert {"dvtex.dynamics", "dvtex.errors", "dvtex.commands", "dvtex.player.source"} <= set(modules)
    proc = run_python(BLOCK_TORCH + "\n".join(f"import {m}" for m in modules), tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_python("import sys, dvtex, dvtex.player.cli; assert 'torch' not in sys.modules", tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_player_benchmarks_do_not_import_torch():
    bench = os.path.join(ROOT, "benchmarks")
    for script in ("player", "audio"):
        proc = run_python(BLOCK_TORCH + f"sys.path.insert(0, {bench!r}); import {script}", bench)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("command, extra", [("train", "dvtex[train]"), ("export", "dvtex[train]"),
                                            ("evaluate", "dvtex[train,eval]")])
def test_torch_tools_without_torch_say_which_extra_in_one_line(tmp_path, command, extra):
    proc = run_python(BLOCK_TORCH + f"sys.argv = ['x', 'procedural:fire', '-o', 'm.pt']\n"
                      f"from dvtex.commands import {command}; {command}()", tmp_path)
    assert_user_error(proc, "torch", f'pip install "{extra}"')
    assert not (tmp_path / "m.pt").exists()


def test_play_without_torch_renders_the_bundled_demo(tmp_path):
    out = tmp_path / "x.mp4"
    proc = run_python(BLOCK_TORCH + f"sys.argv = ['dvtex-play', '--frames', '30', '--out', {str(out)!r}]\n"
                      "from dvtex.commands import play; play()", tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "fire256.onnx" in proc.stderr and "rendered 30 frames" in proc.stdout
    with av.open(str(out)) as f:
        assert sum(1 for _ in f.decode(video=0)) == 30


def test_a_play_only_install_plays_and_its_torch_tools_refuse(tmp_path):
    """A fresh venv with `pip install ".[cpu]"`, as README offers for playing: no torch in it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"{ROOT}[cpu]"], capture_output=True, text=True,
                         timeout=900)
    if pip.returncode and "Could not find a version" in pip.stderr:
        pytest.skip("no package registry reachable")
    assert pip.returncode == 0, pip.stderr[-2000:]
    out = tmp_path / "x.mp4"
    play = subprocess.run([str(venv / "bin" / "dvtex-play"), os.path.join(ROOT, "models", "fire64.onnx"), "--frames",
                           "30", "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert play.returncode == 0, play.stderr
    with av.open(str(out)) as f:
        assert sum(1 for _ in f.decode(video=0)) == 30
    demo = subprocess.run([str(venv / "bin" / "dvtex-play"), "--demo", "--frames", "3", "--out", str(tmp_path / "d.gif")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr  # the demo model ships in the wheel
    for tool in ("dvtex-train", "dvtex-export", "dvtex-eval"):
        assert_user_error(subprocess.run([str(venv / "bin" / tool), "x"], capture_output=True, text=True, timeout=120,
                                         cwd=tmp_path), "torch", "pip install")
