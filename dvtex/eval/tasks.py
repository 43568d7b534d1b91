"""The three evaluations: digits (the paper's order experiment), textures (its Table 2) and incomplete
data. Each trains its networks through dvtex.eval.runner, scores them and returns its JSON result."""

import os
import re

import numpy as np

from dvtex.eval.reports import contact_sheet, print_table
from dvtex.eval.runner import DIGIT_RECIPE, LABELS, eval_config, minutes_of, train_model
from dvtex.eval.scoring import Scorer, floor_scores, judge_runs, long_run, stabilized
from dvtex.train.model import PRESETS

BASELINES = ("lds", "vae+var", "dvae")  # the textures' order: table columns, contact sheet rows after the training frames


def model_path(args, name, label, mask=None):
    """A model's file in --out: source, label and, for one that learns from incomplete frames, its mask."""
    stem = label.replace("+", "_") + (f"-{mask_slug(mask)}" if mask else "")
    return os.path.join(args.out, f"{name}-{stem}.pt")


def run_digits(args, log):
    from dvtex.eval.digits import train_judge
    from dvtex.train.data import load_sequences

    judge = train_judge()
    log(f"digit judge: {judge.accuracy:.1%} on held-out real MNIST digits")
    real = load_sequences(DIGIT_RECIPE["sources"], 32, seed=args.seed)[0].frames
    scorer = Scorer(real, args.fid_frames, log)
    results, sheets, curve = [], {"training": real[:200]}, []
    for method in ("dvae", "vae+var", "lds"):
        config = eval_config(method, model_path(args, "digits", method), args.budget, args.seed, args.schedule,
                             width=args.width, **DIGIT_RECIPE)
        ckpt, snapshots = train_model(config, log, args.snapshot_every if method == "dvae" else 0, args.reuse)
        for minutes, snap in snapshots:  # the DVAE on the way: accuracy against training minutes
            if snap["step"] == ckpt["step"]:
                continue  # the final checkpoint: judged below
            curve.append({"minutes": minutes, "steps": int(snap["step"]), **judge_runs(judge, snap, args.seeds, args.frames)[1]})
        runs, summary = judge_runs(judge, ckpt, args.seeds, args.frames)
        if method == "dvae":
            curve.append({"minutes": minutes_of(ckpt), "steps": int(ckpt["step"]), **summary})
        sheets[LABELS[method]] = runs[0]
        results.append({"method": method, "name": LABELS[method], "steps": int(ckpt["step"]),
                        "train_minutes": minutes_of(ckpt), "stabilized": stabilized(ckpt), **summary,
                        **scorer.inception_scores(np.concatenate(runs))})
        log(f"{LABELS[method]}: order accuracy {summary['order_accuracy']:.1%}, labels {summary['labels_seed0'][:50]}...")
    contact_sheet(sheets, os.path.join(args.out, "digits.png"), columns=15, stride=1)
    log("DVAE order accuracy against training minutes:")
    print_table([{**c, "name": "reused" if c["minutes"] is None else f"{c['minutes']:g} min"} for c in curve],
                ["steps", "order_accuracy", "readability"], log)
    log("the three methods:")
    print_table(results, ["order_accuracy", "readability", "fid", "steps", "train_minutes"], log)
    return {"task": "digits", "judge_accuracy": judge.accuracy, "methods": results, "dvae_by_minutes": curve}


def mask_slug(mask):
    return re.sub("[^0-9A-Za-z.]", "", mask)  # saltpepper:0.5 -> saltpepper0.5


def score_methods(name, configs, real, args, log, sheet_name=None):
    """Train (or reuse) each of `configs` ({label: TrainConfig}) and score it against `real`."""
    from dvtex.eval.metrics import drift
    from dvtex.train.synthesis import synthesize

    scorer = Scorer(real, args.fid_frames, log)
    plays = range(args.seed, args.seed + args.play_seeds)
    results, sheets = [], {"training": real}
    for label, config in configs.items():
        ckpt, _ = train_model(config, log, reuse=args.reuse)
        fakes = [synthesize(ckpt, len(real), seed=seed) for seed in plays]
        sheets[LABELS.get(label, label)] = fakes[0]
        scores = {**mean_scores([scorer(fake) for fake in fakes]),
                  **{f"drift_{k}": v for k, v in drift(long_run(ckpt, args.long_run, args.seed)).items()
                     if k in ("mean_drift", "std_drift")}}
        results.append({"source": name, "method": label, "name": LABELS.get(label, label), "steps": int(ckpt["step"]),
                        "train_minutes": minutes_of(ckpt), "stabilized": stabilized(ckpt), **scores})
        log(f"{name} {LABELS.get(label, label)}: " + ", ".join(f"{k} {v:.3g}" for k, v in scores.items() if isinstance(v, float)))
    sheet = os.path.join(args.out, f"{sheet_name or name}.png")
    contact_sheet(sheets, sheet)
    log(f"contact sheet: {sheet}")
    return results


def mean_scores(per_play):
    """One model's scores over several played runs ([{metric: value}], one per play seed): each metric's
    mean, and with more than one run KID's value per run and their standard deviation, so that a table
    can tell a model's difference from the spread of the runs it was played from."""
    if len(per_play) == 1:
        return per_play[0]
    scores = {k: None if any(s[k] is None for s in per_play) else float(np.mean([s[k] for s in per_play]))
              for k in per_play[0]}
    if scores.get("kid") is not None:
        kids = [s["kid"] for s in per_play]
        scores.update(kid_plays=kids, kid_plays_sd=float(np.std(kids, ddof=1)))
    return scores


def source_name(spec):
    return os.path.splitext(os.path.basename(spec.rstrip("/")))[0] if os.path.exists(spec) else spec.replace(":", "-")


def load_real(args):
    """The sources' frames at model resolution, {source: (T, H, W, C)}; a bad source is refused here, early."""
    from dvtex.train.data import load_sequences

    return {spec: load_sequences([spec], PRESETS[args.preset]["size"], seed=args.seed)[0].frames for spec in args.sources}


def network(args, method, spec, label=None, mask=None):
    """The TrainConfig of one network of the textures' and incomplete tasks."""
    return eval_config(method, model_path(args, source_name(spec), label or method, mask), args.budget, args.seed,
                       args.schedule, sources=[spec], preset=args.preset, width=args.width, sigma_y2=args.sigma_y2,
                       mask=mask, recipe="paper" if method == "lds" else args.recipe)


def run_textures(args, log):
    from dvtex.eval.metrics import source_facts

    results, sources = [], []
    for spec, real in args.real.items():
        floor = floor_scores(real, args.fid_frames)
        facts = {"source": source_name(spec), **source_facts(real), "floor_kid": floor["kid"], "floor_swd": floor["swd"]}
        log(f"{facts['source']}: {facts['frames']} frames; 10 principal components hold {facts['pca10_variance']:.1%} "
            f"of their variance, successive frames correlate {facts['lag1_correlation']:.2f}; its first half against "
            f"its second: KID {floor['kid'] if floor['kid'] is None else round(floor['kid'], 4)}, SWD {floor['swd']:.1f}")
        sources.append(facts)
        results += score_methods(source_name(spec), {m: network(args, m, spec) for m in BASELINES}, real, args, log)
    log("FID per method per sequence (the paper's Table 2; lower is better), and what n = 10 can hold of each:")
    table = [{"name": f["source"], **{LABELS[r["method"]]: r["fid"] for r in results if r["source"] == f["source"]},
              "pca10": f["pca10_variance"], "lag1": f["lag1_correlation"]} for f in sources]
    print_table(table, [LABELS[m] for m in BASELINES] + ["pca10", "lag1"], log)
    log("KID per method per sequence, and the floor (the source's first half against its second):")
    table = [{"name": f["source"], **{LABELS[r["method"]]: r["kid"] for r in results if r["source"] == f["source"]},
              "floor": f["floor_kid"]} for f in sources]
    print_table(table, [LABELS[m] for m in BASELINES] + ["floor"], log)
    print_table([{**r, "name": f"{r['source']} {r['name']}"} for r in results],
                ["kid", "swd", "temporal_lsd_db", "motion_ratio", "drift_mean_drift", "copy_ratio"], log)
    return {"task": "textures", "preset": args.preset, "recipe": args.recipe, "sigma_y2": args.sigma_y2, "sources": sources,
            "methods": results}


def run_incomplete(args, log):
    spec = args.sources[0]
    configs = {"dvae-masked": network(args, "dvae", spec, "dvae-masked", args.mask),
               "dvae-full": network(args, "dvae", spec, "dvae-full")}
    name = source_name(spec)
    results = score_methods(name, configs, args.real[spec], args, log, sheet_name=f"{name}-{mask_slug(args.mask)}")
    print_table(results, ["fid", "kid", "swd", "temporal_lsd_db", "motion_ratio"], log)
    return {"task": "incomplete", "mask": args.mask, "preset": args.preset, "recipe": args.recipe, "sigma_y2": args.sigma_y2,
            "methods": results}
