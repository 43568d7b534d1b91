"""The paper's ablation in miniature: a short DVAE run on digits:01234 already synthesises the cycle
far above chance (20%); benchmarks/digits.py has the full figure (>= 90%)."""

import numpy as np
import pytest

import dvtex
from dvtex.eval.digits import judge_sequence, order_accuracy, train_judge

from conftest import run_module


def test_order_accuracy_counts_cycle_transitions():
    assert order_accuracy([0, 1, 2, 3, 4, 0, 1]) == 1.0
    assert order_accuracy([0, 0, 1, 3, 4]) == 0.5
    assert order_accuracy([9, 1, 2]) == 0.5


@pytest.mark.slow
def test_short_training_already_follows_the_digit_cycle(tmp_path):
    out = tmp_path / "digits.pt"
    # sigma_y2 = 16 finds the cycle within 1,500 steps; the benchmark's 32 starts slower (38% here) and ends higher
    proc = run_module("dvtex.train", "digits:01234", "--preset", "mnist32", "--width", "32", "--sigma-y2", "16",
                      "--steps", "1500", "--preview-every", "0", "-o", out, timeout=900)
    assert proc.returncode == 0, proc.stderr
    judge = train_judge(epochs=6)
    assert judge.accuracy > 0.95
    scores = [judge_sequence(judge, dvtex.synthesize(str(out), 100, seed=s))["order_accuracy"] for s in range(3)]
    assert np.mean(scores) > 0.4, scores  # chance is 0.2
