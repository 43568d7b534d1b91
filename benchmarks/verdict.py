"""Issue 14's bar, judged from the texture benchmarks' JSON over every seed and played run they hold.

    python benchmarks/verdict.py benchmarks/results/textures.json benchmarks/results/seed1-late-*.json ...

Reads benchmarks/sharp.py's results and dvtex-eval textures' (whose paper-recipe DVAE counts as "paper
s10", or "paper s2" at --sigma-y2 2). A model is one (source, method, training seed); its figures are
the mean over the runs it was played from (--play-seeds; one run, seed = training seed, where the JSON
predates them). Where two files hold the same model, the later file's figures replace the earlier's:
a rescoring on more runs, or a retraining (the same seed does not give the same network on another
CPU or thread count). A method's figure on a source is the mean over its models. The bar: the
variant's KID below the LDS's and below the paper recipe's on at least 5 of the sources, its SWD below
the paper recipe's on all, and every model's motion ratio within [0.5, 2] and copy ratio at least 0.7.
"""

import argparse
import json
import sys
from collections import defaultdict

import numpy as np

from dvtex.fileio import write_json

METRICS = ("kid", "swd", "motion_ratio", "copy_ratio")


def method_of(result, row):
    """The row's method as benchmarks/sharp.py names it; dvtex-eval's DVAE by its recipe and variance."""
    if result.get("task") != "textures" or row["method"] != "dvae":
        return row["method"]
    if result.get("recipe", "paper") != "paper":
        return f"{result['recipe']} (dvtex-eval)"
    return f"paper s{result.get('sigma_y2') or 10:g}"


def collect(paths):
    """{(source, method, seed): {metric: mean over its runs, 'plays': runs}} from every file, and the
    floors' KID."""
    models, floors = {}, {}
    for path in paths:
        with open(path) as f:
            result = json.load(f)
        if result.get("benchmark") != "sharp-ablation" and result.get("task") != "textures":
            raise SystemExit(f"verdict: {path} is neither benchmarks/sharp.py's nor dvtex-eval textures' result")
        seed = result["seed"]
        plays = result.get("play_seeds", [seed])
        for row in result.get("results", result.get("methods", [])):
            kids = row.get("kid_plays", [row["kid"]])
            if len(kids) != len(plays):
                raise SystemExit(f"verdict: {path}: {len(kids)} KIDs for {len(plays)} play seeds")
            models[(row["source"], method_of(result, row), seed)] = \
                {"kid": float(np.mean(kids)), **{m: row[m] for m in METRICS[1:]}, "plays": len(kids)}
        for fl in result.get("floors", []):
            floors[fl["source"]] = fl["kid"]
        for fact in result.get("sources", []):
            floors[fact["source"]] = fact.get("floor_kid")
    return models, floors


def summarize(models):
    """{source: {method: {metric: mean over models, 'models': [{seed, plays, kid}], 'motion_range',
    'copy_min'}}}: the last two over the models, which the bar asks of each."""
    by_method = defaultdict(list)
    for (source, method, seed), model in sorted(models.items()):
        by_method[(source, method)].append({"seed": seed, **model})
    table = defaultdict(dict)
    for (source, method), entries in by_method.items():
        motions = [e["motion_ratio"] for e in entries]
        table[source][method] = {**{m: float(np.mean([e[m] for e in entries])) for m in METRICS},
                                 "models": [{k: e[k] for k in ("seed", "plays", "kid")} for e in entries],
                                 "motion_range": [min(motions), max(motions)],
                                 "copy_min": min(e["copy_ratio"] for e in entries)}
    return table


def judge(table, variant, paper, need=5):
    sources = [s for s in table if {variant, paper, "lds"} <= set(table[s])]
    rows, wins = [], {"lds": 0, "paper": 0, "swd": 0, "motion": 0, "copy": 0}
    for s in sources:
        v, p, lds = table[s][variant], table[s][paper], table[s]["lds"]
        checks = {"lds": v["kid"] < lds["kid"], "paper": v["kid"] < p["kid"], "swd": v["swd"] < p["swd"],
                  "motion": 0.5 <= v["motion_range"][0] and v["motion_range"][1] <= 2, "copy": v["copy_min"] >= 0.7}
        for k, ok in checks.items():
            wins[k] += ok
        rows.append({"source": s, "entries": {"lds": lds, "paper": p, "variant": v}, "checks": checks})
    n = len(sources)
    met = n >= 6 and wins["lds"] >= need and wins["paper"] >= need and all(wins[k] == n for k in ("swd", "motion", "copy"))
    return rows, wins, n, met


def spread(entry):
    plays = sum(m["plays"] for m in entry["models"])
    return f"{1000 * entry['kid']:.0f} ({len(entry['models'])}s/{plays}p)"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", help="JSON files of benchmarks/sharp.py and dvtex-eval textures")
    p.add_argument("--variant", default="s10+late stats w1")
    p.add_argument("--against", default="paper s10", help="the paper recipe's row (default 'paper s10')")
    p.add_argument("--json", help="write the verdict here")
    args = p.parse_args()
    models, floors = collect(args.results)
    table = summarize(models)
    rows, wins, n, met = judge(table, args.variant, args.against)
    print(f"KID x1000, mean over models (s: training seeds, p: played runs in all); {args.variant} against {args.against}")
    print(f"{'source':<20}{'floor':>7}{'LDS':>16}{args.against:>16}{args.variant:>22}   KID<LDS KID<paper SWD<paper "
          "motion copy")
    for r in rows:
        floor = floors.get(r["source"])
        e, c = r["entries"], {k: "yes" if ok else "no" for k, ok in r["checks"].items()}
        print(f"{r['source']:<20}{'-' if floor is None else f'{1000 * floor:.1f}':>7}{spread(e['lds']):>16}"
              f"{spread(e['paper']):>16}{spread(e['variant']):>22}   {c['lds']:>7} {c['paper']:>9} {c['swd']:>9} "
              f"{c['motion']:>6} {c['copy']:>4}")
    print(f"on {n} sources: KID beats the LDS on {wins['lds']}, the paper recipe on {wins['paper']}; SWD beats it on "
          f"{wins['swd']}; motion within [0.5, 2] on {wins['motion']}; copy >= 0.7 on {wins['copy']}: "
          f"bar {'MET' if met else 'not met'}")
    if args.json:
        write_json(args.json, {"variant": args.variant, "against": args.against, "inputs": args.results, "sources": n,
                               "wins": wins, "met": met, "floors": floors, "table": table})


if __name__ == "__main__":
    sys.exit(main())
