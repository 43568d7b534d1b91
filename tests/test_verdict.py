"""benchmarks/verdict.py: issue 14's bar over seeds and played runs, on crafted results."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def row(source, method, kid, swd=100.0, motion=1.0, copy=1.0, plays=None):
    return {"source": source, "method": method, "kid": kid, "swd": swd, "motion_ratio": motion, "copy_ratio": copy,
            **({"kid_plays": plays} if plays else {})}


def verdict(tmp_path, results):
    paths = []
    for i, result in enumerate(results):
        paths.append(tmp_path / f"r{i}.json")
        paths[-1].write_text(json.dumps(result))
    out = tmp_path / "verdict.json"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "verdict.py"), *map(str, paths),
                           "--json", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc.stdout


def test_the_bar_counts_sources_on_the_mean_over_seeds_and_plays(tmp_path):
    sources = [f"s{i}" for i in range(6)]
    seed0 = {"benchmark": "sharp-ablation", "seed": 0, "play_seeds": [0, 1],
             "results": [r for s in sources for r in (row(s, "lds", 0.3, plays=[0.2, 0.4]),
                                                       row(s, "paper s10", 0.2, plays=[0.1, 0.3]),
                                                       row(s, "s10+late stats w1", 0.15, 50.0, plays=[0.1, 0.2]))]}
    # a second seed, one played run: on s0 the variant loses to the paper recipe there by more than it won
    seed1 = {"benchmark": "sharp-ablation", "seed": 1,
             "results": [row("s0", "paper s10", 0.1), row("s0", "s10+late stats w1", 0.3, 50.0), row("s0", "lds", 0.3)]}
    # dvtex-eval textures' paper DVAE at seed 0 counts as "paper s10"; a later file replaces the model
    textures = {"task": "textures", "seed": 0, "sources": [{"source": "s1", "floor_kid": 0.01}],
                "methods": [row("s1", "dvae", 0.1)]}
    result, text = verdict(tmp_path, [seed0, seed1, textures])
    s0 = result["table"]["s0"]
    assert s0["paper s10"]["kid"] == pytest.approx(0.15)  # (mean(0.1, 0.3) + 0.1) / 2
    assert s0["s10+late stats w1"]["kid"] == pytest.approx(0.225)  # (mean(0.1, 0.2) + 0.3) / 2
    assert [m["plays"] for m in s0["paper s10"]["models"]] == [2, 1]
    assert result["table"]["s1"]["paper s10"]["kid"] == 0.1  # the later file's one run, not sharp.py's two
    assert result["floors"]["s1"] == 0.01
    assert result["wins"] == {"lds": 6, "paper": 4, "swd": 6, "motion": 6, "copy": 6} and not result["met"]
    assert "bar not met" in text
    _, text = verdict(tmp_path, [textures, seed0, seed1])  # the other order: sharp.py's two runs replace it
    assert "paper recipe on 5" in text and "bar MET" in text


def test_one_model_out_of_range_fails_the_motion_check(tmp_path):
    rows = [r for s in [f"s{i}" for i in range(6)]
            for r in (row(s, "lds", 0.3), row(s, "paper s10", 0.2), row(s, "s10+late stats w1", 0.1, 50.0))]
    seed0 = {"benchmark": "sharp-ablation", "seed": 0, "results": rows}
    met, _ = verdict(tmp_path, [seed0])
    assert met["met"] and met["wins"]["paper"] == 6
    seed1 = {"benchmark": "sharp-ablation", "seed": 1, "results": [row("s2", "s10+late stats w1", 0.1, 50.0, motion=2.5)]}
    unmet, _ = verdict(tmp_path, [seed0, seed1])
    assert unmet["wins"]["motion"] == 5 and not unmet["met"]
