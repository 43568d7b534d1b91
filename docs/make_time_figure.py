"""docs/time-to-quality.png: KID and held-out loss against training minutes, one panel per source, from
benchmarks/time_to_quality.py's JSON (matplotlib comes with the eval extra, through mlxtend).

    python docs/make_time_figure.py benchmarks/results/time-to-quality.json docs/time-to-quality.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(path, out):
    with open(path) as f:
        result = json.load(f)
    sources = list(dict.fromkeys(r["source"] for r in result["results"]))
    machine = result["hardware"].split(",")[0]  # the CPU, and the kernels where torch was held below it
    if result["hardware"].endswith("kernels"):
        machine += ", " + result["hardware"].rsplit(", ", 1)[1]
    fig, axes = plt.subplots(2, len(sources), figsize=(5.5 * len(sources), 7), squeeze=False)
    for col, source in enumerate(sources):
        for r in (r for r in result["results"] if r["source"] == source):
            minutes = [p["minutes"] for p in r["curve"]]
            style = dict(marker="o", markersize=3, lw=2.5 if r["candidate"] == "reference" else 1.5)
            axes[0, col].plot(minutes, [1000 * p["kid"] for p in r["curve"]], label=r["candidate"], **style)
            axes[1, col].plot(minutes, [p["heldout_loss"] for p in r["curve"]], label=r["candidate"], **style)
        reference = next(r for r in result["results"] if r["source"] == source and r["candidate"] == "reference")
        axes[0, col].axhline(1000 * reference["curve"][-1]["kid"], color="grey", ls=":", lw=1)
        axes[0, col].axvline(reference["minutes"] / 2, color="grey", ls=":", lw=1)
        axes[0, col].set_title(f"{source}: KID x1000 (lower is better)")
        axes[1, col].set_title(f"{source}: held-out -ELBO per pair")
        axes[1, col].set_xlabel(f"training minutes ({machine})")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
