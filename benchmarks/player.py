"""Player benchmarks: decode speed (ONNX Runtime vs torch), pacing, memory, time to first frame.

  1. decode: latency at batch 1 and throughput at batch 8, ONNX Runtime against the per-frame torch
     eager loop the reference implementation synthesises with, same weights, 64x64 and 128x128 presets
     at widths 32, 64, 128 (target: ONNX Runtime >= 1.5x faster per frame)
  2. pacing: dvtex-play in a window (under Xvfb) at 30 and 60 FPS for --pace-seconds
     (target: p99 |interval - 1/fps| <= 3 ms, no dropped frame)
  3. memory: 100,000 frames through the player's producer and decoder (target: RSS growth after
     warm-up <= 2 MiB)
  4. time to first frame of a 64x64 model on the CPU (target < 1 s)

    xvfb-run -a python benchmarks/player.py --json benchmarks/results/player.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from common import make_model, write_result

from dvtex.export.exporter import FrameGraph
from dvtex.player.decoder import FrameDecoder
from dvtex.player.producer import FrameProducer
from dvtex.player.stats import rss_mb
from dvtex.player.stream import LatentStream


def timed(fn, min_seconds):
    fn()  # warm-up
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds:
        fn()
        count += 1
    return (time.perf_counter() - t0) / count


def bench_decode(folder, seconds):
    rows = []
    torch.set_num_threads(2)
    for preset in ("cows64", "texture128"):
        for width in (32, 64, 128):
            decoder, path = make_model(folder, preset, width)
            graph = FrameGraph(decoder).eval()
            row = {"preset": preset, "width": width}
            for batch in (1, 8):
                ort_dec = FrameDecoder(path, "cpu", batch=batch, threads=2)
                h = np.random.default_rng(0).standard_normal((batch, 10)).astype(np.float32)
                ht = torch.from_numpy(h)
                ort_s = timed(lambda: ort_dec.decode(h), seconds)

                def torch_loop():  # the reference synthesises frame by frame; batch 8 is one call here
                    with torch.no_grad():
                        graph(ht).numpy()

                torch_s = timed(torch_loop, seconds)
                row[f"ort_ms_b{batch}"] = ort_s * 1000 / batch
                row[f"torch_ms_b{batch}"] = torch_s * 1000 / batch
            row["speedup_b1"] = row["torch_ms_b1"] / row["ort_ms_b1"]
            row["speedup_b8"] = row["torch_ms_b8"] / row["ort_ms_b8"]
            row["ort_fps_b8"] = 1000 / row["ort_ms_b8"]
            rows.append(row)
            print(f"{preset:>10} {width:>5} {row['ort_ms_b1']:>9.2f} {row['torch_ms_b1']:>9.2f} {row['speedup_b1']:>6.2f}x"
                  f" {row['ort_ms_b8']:>9.2f} {row['torch_ms_b8']:>9.2f} {row['speedup_b8']:>6.2f}x {row['ort_fps_b8']:>8.0f}", flush=True)
    return rows


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
    decoder = FrameDecoder(model, "cpu")
    producer = FrameProducer(LatentStream(decoder.info, seed=0), decoder).start()
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
    p.add_argument("--decode-seconds", type=float, default=1.0, help="timing per measurement (default 1 s)")
    p.add_argument("--pace-seconds", type=float, default=20.0)
    p.add_argument("--memory-frames", type=int, default=100_000)
    args = p.parse_args()
    folder = tempfile.mkdtemp(prefix="dvtex-bench-")
    result = {"benchmark": "player",
              "targets": {"speedup": 1.5, "pacing_error_ms_p99": 3.0, "dropped": 0, "growth_mb": 2.0, "first_frame_s": 1.0}}
    print("1. decode per frame (ms), CPU, 2 threads")
    print(f"{'preset':>10} {'width':>5} {'ORT b1':>9} {'torch b1':>9} {'ratio':>7} {'ORT b8':>9} {'torch b8':>9} {'ratio':>7} {'ORT f/s':>8}")
    result["decode"] = bench_decode(folder, args.decode_seconds)
    _, small = make_model(folder, "cows64", 32)
    if os.environ.get("DISPLAY"):
        print(f"\n2. pacing, 64x64 width 32, {args.pace_seconds:g} s each (ms)")
        print(f"{'fps':>5} {'frames':>7} {'interval':>10} {'err p99':>10} {'err max':>10} {'dropped':>8}")
        result["pacing"] = bench_pacing(small, folder, args.pace_seconds)
        wall = run_player(small, "--frames", 1, "--stats-json", os.path.join(folder, "first.json"))
        with open(os.path.join(folder, "first.json")) as f:
            first = json.load(f)["first_frame_ms"]
        result["first_frame"] = {"first_frame_ms_from_main": first, "process_wall_s_one_frame": wall}
        print(f"\n4. time to first frame: {first:.0f} ms from main(); whole process with one frame {wall:.2f} s")
    else:
        print("\n2./4. no DISPLAY: pacing and first-frame skipped (run under xvfb-run)")
    print(f"\n3. memory over {args.memory_frames} frames through producer + decoder")
    result["memory"] = bench_memory(small, args.memory_frames)
    m = result["memory"]
    print(f"RSS after warm-up {m['rss_mb_after_warmup']:.1f} MiB, at the end {m['rss_mb_end']:.1f} MiB: growth {m['growth_mb']:+.2f} MiB")
    write_result(args.json, result)


if __name__ == "__main__":
    main()
