"""dvtex-train against bad input: every option's bad values, bad sources and bad outputs are refused
before any work, in one line with status 2, and nothing is written."""

import os

import numpy as np
import pytest
import torch

from dvtex.train.cli import main

from conftest import assert_refused, run_main

TINY = ["--preset", "mnist32", "--width", "8", "--batch", "8", "--steps", "2", "--preview-every", "0"]
OPTIONS = [
    (["--steps", "0"], "--steps"), (["--steps", "-1"], "--steps"), (["--steps", "nan"], "--steps"),
    (["--minutes", "0"], "--minutes"), (["--minutes", "nan"], "--minutes"), (["--minutes", "-1"], "--minutes"),
    (["--batch", "0"], "--batch"), (["--batch", "-4"], "--batch"), (["--lr", "0"], "--lr"), (["--lr", "nan"], "--lr"),
    (["--lr", "inf"], "--lr"), (["--lr-dynamics", "-1"], "--lr-dynamics"), (["--width", "0"], "--width"),
    (["--width", "7"], "--width 7"), (["--encoder-width", "6"], "--encoder-width 6"),
    (["--encoder-width", "0"], "--encoder-width"), (["--sigma-y2", "0"], "--sigma-y2"), (["--sigma-y2", "inf"], "--sigma-y2"),
    (["--kl-warmup", "-5"], "--kl-warmup"), (["--cosine", "-1"], "--cosine"), (["--save-every", "0"], "--save-every"),
    (["--preview-every", "-1"], "--preview-every"), (["--seed", "-1"], "--seed"), (["--method", "gan"], "--method"),
    (["--preset", "foo"], "--preset"), (["--mask", "saltpepper:1.5"], "--mask"), (["--mask", "saltpepper:nan"], "--mask"),
    (["--mask", "blur:0.5"], "--mask"), (["--method", "lds", "--mask", "rect:0.5"], "complete frames"),
    (["--recipe", "crisp"], "--recipe"), (["--texture", "-1"], "--texture"), (["--texture", "nan"], "--texture"),
    (["--motion", "inf"], "--motion"), (["--prior", "-1"], "--prior"),
    (["--decoder", "unet"], "--decoder"), (["--regions", "0"], "--regions"),
    (["--regions", "4", "--regions-from", "4"], "--regions-from 4"), (["--regions-from", "-1"], "--regions-from"),
    (["--regions-from", "2"], "give --regions G"),
    (["--levels", "0"], "--levels 0"), (["--levels", "5"], "--levels 5"),
    (["--motion-levels", "0"], "--motion-levels 0"),
    (["--recipe", "sharp", "--statistics-from", "-1"], "--statistics-from"),
    (["--statistics-from", "1"], "no statistics terms"),
    (["--recipe", "sharp", "--statistics-from", "2"], "--statistics-from 2 is not below --steps 2"),
]
if not torch.cuda.is_available():
    OPTIONS.append((["--device", "cuda"], "--device cuda"))


@pytest.mark.parametrize("option, fragment", OPTIONS, ids=[" ".join(o) for o, _ in OPTIONS])
def test_bad_options(capsys, tmp_path, option, fragment):
    out = tmp_path / "m.pt"
    assert_refused(capsys, main, ["procedural:water:20", "-o", out, *TINY, *option], fragment)
    assert os.listdir(tmp_path) == []


def sources(folder):
    np.save(folder / "nan.npy", np.full((5, 8, 8), np.nan, np.float32))
    np.save(folder / "flat.npy", np.zeros(5, np.uint8))
    np.save(folder / "one.npy", np.zeros((1, 8, 8), np.uint8))
    np.save(folder / "wide.npy", np.zeros((4, 8, 8), np.float64) + 2.0)
    (folder / "text.mp4").write_text("not a video")
    (folder / "empty").mkdir()
    return [("procedural:fire:-5", "frame count"), ("procedural:fire:0", "frame count"),
            ("procedural:fire:1", "frame count"), ("procedural:fire:x", "frame count"),
            ("procedural:fire:10000000", "frame count"), ("procedural:smoke", "unknown texture"),
            ("digits:abc", "digit cycle"), (f"{folder}/missing.mp4", "no such file"), (f"{folder}/nan.npy", "nan"),
            (f"{folder}/flat.npy", "shape"), (f"{folder}/one.npy", "at least 2"), (f"{folder}/wide.npy", "[0, 1]"),
            (f"{folder}/text.mp4", "not a video"), (f"{folder}/empty", "at least 2")]


def test_bad_sources(capsys, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for spec, fragment in sources(data):
        assert_refused(capsys, main, [spec, "-o", tmp_path / "m.pt", *TINY], fragment)
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_bad_outputs(capsys, tmp_path):
    (tmp_path / "taken.pt").write_bytes(b"mine")
    (tmp_path / "dir.pt").mkdir()
    for out, fragment in [(tmp_path / "missing" / "m.pt", "does not exist"), (tmp_path / "dir.pt", "is a folder"),
                          (tmp_path, "is a folder"), (tmp_path / "taken.pt", "--resume")]:
        assert_refused(capsys, main, ["procedural:water:20", "-o", out, *TINY], fragment)
    assert (tmp_path / "taken.pt").read_bytes() == b"mine"
    assert_refused(capsys, main, ["procedural:water:20", "-o", tmp_path / "taken.pt", "--resume", *TINY],
                   "not a readable dvtex checkpoint")
    assert (tmp_path / "taken.pt").read_bytes() == b"mine"


def test_a_killed_saves_leftovers_are_removed_by_the_next_run(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".tmp-{dead.stdout.strip()}-abcd.pt"  # a save SIGKILLed by a process that is gone
    live = tmp_path / f".tmp-{os.getpid()}-efgh.pt"  # a save in progress (this process)
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    assert run_main(main, ["procedural:water:20", "-o", tmp_path / "m.pt", *TINY]) == 0
    assert not stale.exists() and live.exists()  # a live writer's file is not touched
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "m.pt"])
