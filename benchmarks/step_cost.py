"""Training cost per step of each recipe, in one run: 64x64 RGB (cows64), width 32, batch 64, on
procedural fire, and of the paper recipe at a CPU's default batch and encoder width (32 and 16); with
torch's widest CPU kernels and again restricted to AVX2 (what an ordinary laptop without AVX-512
runs: ATEN_CPU_CAPABILITY=avx2 and oneDNN capped at AVX2, set before torch loads, so each
measurement runs in a process of its own).

    python benchmarks/step_cost.py --json benchmarks/results/step-cost.json
    python benchmarks/step_cost.py --variants "sharp,s10 regional w1" --json benchmarks/results/step-cost-regional.json
    python benchmarks/step_cost.py --variants "sharp,s10 fine texture w1" --json benchmarks/results/step-cost-finetex.json
    python benchmarks/step_cost.py --variants "s10 stats w1,s10 late w1" --json benchmarks/results/step-cost-late.json
    python benchmarks/step_cost.py --variants "s10 later w1" --json benchmarks/results/step-cost-later.json

"s10 late w1" is --statistics-from half the budget: its figure is the mean step over a budget whose first
half trains the ELBO alone; "s10 stats w1" is the cost of its second half's steps; "s10 later w1" is
--statistics-from two thirds of the budget.
"""

import argparse
import json
import os
import subprocess
import sys

from common import write_result

ISAS = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}
MEASURE = r"""
import json, os, sys, time, torch
from dvtex.train.config import TrainConfig
from dvtex.train.data import FramePairs, load_sequences
from dvtex.train.loop import train_step
from dvtex.train.baselines import model_class
torch.set_num_threads(int(os.environ.get("DVTEX_THREADS", "2")))
variant, warmup, steps = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
share = variant.pop("statistics_share", 1.0)  # the budget's last share that carries the statistics terms
config = TrainConfig(sources=["procedural:fire:300"], width=32, **variant).resolved()
pairs = FramePairs(load_sequences(config.sources, 64, seed=0))
torch.manual_seed(0)
model = model_class("dvae")(config.model_config(3))
opt = torch.optim.Adam(model.parameter_groups(config.lr, config.lr_dynamics))
gen = torch.Generator().manual_seed(0)
for i in range(warmup + steps):
    if i == warmup:
        start = time.perf_counter()
    y, _ = pairs.batch(torch.randint(len(pairs), (config.batch,), generator=gen))
    # warm-up: both kinds of step where the budget has both; timed: the budget's mix, in its order
    statistics = (i % 2 == 0 or share == 1) if i < warmup else i - warmup >= round((1 - share) * steps)
    train_step(model, opt, y, statistics=statistics)
print(json.dumps({"seconds_per_step": (time.perf_counter() - start) / steps, "batch": config.batch,
                  "encoder_width": config.encoder_width, "capability": torch.backends.cpu.get_cpu_capability()}))
"""


VARIANTS = {"paper": {"recipe": "paper", "batch": 64, "encoder_width": 32},
            "sharp": {"recipe": "sharp", "batch": 64, "encoder_width": 32},
            "sharp resize": {"recipe": "sharp", "batch": 64, "encoder_width": 32, "decoder": "resize"},
            "s10 regional w1": {"recipe": "sharp", "sigma_y2": 10.0, "texture": 1.0, "motion": 1.0, "regions": 4,
                                "batch": 64, "encoder_width": 32},
            "s10 fine texture w1": {"recipe": "sharp", "sigma_y2": 10.0, "texture": 1.0, "motion": 1.0, "levels": 2,
                                    "batch": 64, "encoder_width": 32},
            "s10 stats w1": {"recipe": "sharp", "sigma_y2": 10.0, "texture": 1.0, "motion": 1.0, "batch": 64,
                             "encoder_width": 32},
            # --statistics-from half the budget: the mean step over the whole budget, half of them the paper's
            "s10 late w1": {"recipe": "sharp", "sigma_y2": 10.0, "texture": 1.0, "motion": 1.0, "statistics_share": 0.5,
                            "batch": 64, "encoder_width": 32},
            # --statistics-from two thirds of the budget: a third of the steps carry the terms
            "s10 later w1": {"recipe": "sharp", "sigma_y2": 10.0, "texture": 1.0, "motion": 1.0,
                             "statistics_share": 1 / 3, "batch": 64, "encoder_width": 32},
            "cpu default": {"recipe": "paper"}}  # TrainConfig.resolved() decides: batch 32, encoder width 16


def measure(variant, isa, warmup, steps):
    env = {**os.environ, **ISAS[isa]}
    out = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(VARIANTS[variant]), str(warmup), str(steps)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60, help="timed steps per measurement (default 60)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--json", default="benchmarks/results/step-cost.json")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS))
    args = p.parse_args()
    variants = ["paper", *[v for v in args.variants.split(",") if v != "paper"]]  # every ratio is over the paper's
    rows = []
    for isa in ISAS:
        for recipe in variants:
            r = measure(recipe, isa, args.warmup, args.steps)
            rows.append({"isa": isa, "recipe": recipe, **r, "pairs_per_s": r["batch"] / r["seconds_per_step"]})
            print(f"{isa:>7} ({r['capability']}) {recipe:>15}: {r['seconds_per_step'] * 1000:7.1f} ms/step, "
                  f"{rows[-1]['pairs_per_s']:6.0f} pairs/s, {1 / r['seconds_per_step']:5.1f} steps/s", flush=True)
    cost = {(r["isa"], r["recipe"]): r["seconds_per_step"] for r in rows}
    over_paper = {v: {isa: cost[isa, v] / cost[isa, "paper"] for isa in ISAS}
                  for v in variants if v not in ("paper", "cpu default")}  # at the same batch and encoder width
    for v, by_isa in over_paper.items():
        for isa, x in by_isa.items():
            print(f"{isa}: {v} costs {x:.2f}x the paper recipe per step (bar: 2x)")
    extra = {"sharp_over_paper": over_paper["sharp"]} if "sharp" in over_paper else {}
    write_result(args.json, {"benchmark": "step-cost", "rows": rows, "over_paper": over_paper, **extra, "bar": 2.0})


if __name__ == "__main__":
    main()
