"""Player benchmarks, torch-free (the player never imports it): pacing, memory, time to first frame,
on the bundled demo model (player/demo/fire256.onnx: 256x256, a 64x64 DVAE and its detail stage) or --model.
Decode speed against torch: benchmarks/decode.py.

  1. pacing: dvtex-play in a window (under Xvfb) at 30 and 60 FPS for --pace-seconds
     (target: p99 |interval - 1/fps| <= 3 ms, no dropped frame)
  2. memory: 100,000 frames through the player's producer and decoder (target: RSS growth after
     warm-up <= 2 MiB)
  3. time to first frame of a 64x64 model on the CPU (target < 1 s)

    xvfb-run -a python benchmarks/player.py --json benchmarks/results/player.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import write_result

from dvtex.player.cli import DEMO
from dvtex.player.producer import FrameProducer
from dvtex.player.stats import rss_mb
from dvtex.player.source import FrameSource


def run_player(model, *args):
    cmd = [sys.executable, "-m", "dvtex.player", model, *map(str, args)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return time.perf_counter() - t0


def bench_pacing(model, folder, seconds):
    rows = []
    for fps in (30, 60):
        stats = os.path.join(folder, f"pace{fps}.json")
        run_player(model, "--fps", fps, "--frames", int(seconds * fps), "--stats-json", stats)
        with open(stats) as f:
            s = json.load(f)
        rows.append({"fps": fps, "frames": s["frames"], "pacing_error_ms_p99": s["pacing_error_ms"]["p99"],
                     "pacing_error_ms_max": s["pacing_error_ms"]["max"], "interval_ms_p50": s["interval_ms"]["p50"],
                     "dropped": s["dropped"], "decode_ms_p50": s["decode_ms"]["p50"]})
        r = rows[-1]
        print(f"{fps:>5} {r['frames']:>7} {r['interval_ms_p50']:>10.2f} {r['pacing_error_ms_p99']:>10.2f} "
              f"{r['pacing_error_ms_max']:>10.2f} {r['dropped']:>8}", flush=True)
    return rows


def bench_memory(model, frames):
    """The player's producer and decoder without the clock: take frames as fast as they come."""
    producer = FrameProducer(FrameSource.open(model, seed=0, provider="cpu")).start()
    taken, warm, samples = 0, None, []
    while taken < frames:
        producer.wait_ready()
        _, new = producer.take()
        taken += new
        if taken == 2000 and warm is None:
            warm = rss_mb()
        if taken % 10000 == 0:
            samples.append(rss_mb())
    producer.stop()
    end = rss_mb()
    return {"frames": frames, "rss_mb_after_warmup": warm, "rss_mb_end": end, "growth_mb": end - warm,
            "rss_mb_every_10k": samples}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", default="benchmarks/results/player.json")
    p.add_argument("--model", default=DEMO, help="the model to play (default: the bundled demo)")
    p.add_argument("--pace-seconds", type=float, default=20.0)
    p.add_argument("--memory-frames", type=int, default=100_000)
    args = p.parse_args()
    folder = tempfile.mkdtemp(prefix="dvtex-bench-")
    result = {"benchmark": "player",
              "model": os.path.basename(args.model),
              "targets": {"pacing_error_ms_p99": 3.0, "dropped": 0, "growth_mb": 2.0, "first_frame_s": 1.0}}
    small = args.model
    if os.environ.get("DISPLAY"):
        print(f"1. pacing, {os.path.basename(small)}, {args.pace_seconds:g} s each (ms)")
        print(f"{'fps':>5} {'frames':>7} {'interval':>10} {'err p99':>10} {'err max':>10} {'dropped':>8}")
        result["pacing"] = bench_pacing(small, folder, args.pace_seconds)
        wall = run_player(small, "--frames", 1, "--stats-json", os.path.join(folder, "first.json"))
        with open(os.path.join(folder, "first.json")) as f:
            first = json.load(f)["first_frame_ms"]
        result["first_frame"] = {"first_frame_ms_from_main": first, "process_wall_s_one_frame": wall}
        print(f"\n3. time to first frame: {first:.0f} ms from main(); whole process with one frame {wall:.2f} s")
    else:
        print("\n1./3. no DISPLAY: pacing and first-frame skipped (run under xvfb-run)")
    print(f"\n2. memory over {args.memory_frames} frames through producer + decoder")
    result["memory"] = bench_memory(small, args.memory_frames)
    m = result["memory"]
    print(f"RSS after warm-up {m['rss_mb_after_warmup']:.1f} MiB, at the end {m['rss_mb_end']:.1f} MiB: growth {m['growth_mb']:+.2f} MiB")
    write_result(args.json, result)


if __name__ == "__main__":
    main()
