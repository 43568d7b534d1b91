"""Decode speed: ONNX Runtime against the per-frame torch eager loop the reference implementation
synthesises with, same weights, latency at batch 1 and throughput at batch 8, 64x64 and 128x128
presets at widths 32, 64, 128 (target: ONNX Runtime >= 1.5x faster per frame), and a 64x64 model with
a 4x detail stage to 256x256 and 256x448 (target: >= 60 frames/s at batch 1). Needs torch (it is the
comparison); benchmarks/player.py measures the player alone, without it.

    python benchmarks/decode.py --json benchmarks/results/decode.json
"""

import argparse
import tempfile
import time

import numpy as np
import torch
from common import make_model, write_result

from dvtex.export.exporter import FrameGraph
from dvtex.player.decoder import FrameDecoder


def timed(fn, min_seconds):
    fn()  # warm-up
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds:
        fn()
        count += 1
    return (time.perf_counter() - t0) / count


# (preset, width, kernel1_w, detail factor): the paper's presets, then 64x64 models with a 4x detail
# stage (dvtex-train --detail) to 256x256 and, at --aspect 16:9, 256x448.
MODELS = [(p, w, 0, 0) for p in ("cows64", "texture128") for w in (32, 64, 128)] + \
    [("cows64", 32, 0, 4), ("cows64", 32, 7, 4)]


def bench_decode(folder, seconds):
    rows = []
    torch.set_num_threads(2)
    for preset, width, kernel1_w, detail in MODELS:
        decoder, path = make_model(folder, preset, width, kernel1_w=kernel1_w, detail=detail)
        graph = FrameGraph(decoder).eval()
        row = {"preset": preset, "width": width, "detail": detail}
        for batch in (1, 8):
            ort_dec = FrameDecoder(path, "cpu", batch=batch, threads=2)
            row["output"] = f"{ort_dec.info.width}x{ort_dec.info.height}"
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
        row["ort_fps_b1"], row["ort_fps_b8"] = 1000 / row["ort_ms_b1"], 1000 / row["ort_ms_b8"]
        rows.append(row)
        print(f"{preset:>10} {width:>5} {row['output']:>8} {row['ort_ms_b1']:>9.2f} {row['torch_ms_b1']:>9.2f} {row['speedup_b1']:>6.2f}x"
              f" {row['ort_ms_b8']:>9.2f} {row['torch_ms_b8']:>9.2f} {row['speedup_b8']:>6.2f}x {row['ort_fps_b8']:>8.0f}", flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", default="benchmarks/results/decode.json")
    p.add_argument("--seconds", type=float, default=1.0, help="timing per measurement (default 1 s)")
    args = p.parse_args()
    folder = tempfile.mkdtemp(prefix="dvtex-bench-")
    print("decode per frame (ms), CPU, 2 threads")
    print(f"{'preset':>10} {'width':>5} {'output':>8} {'ORT b1':>9} {'torch b1':>9} {'ratio':>7} {'ORT b8':>9} {'torch b8':>9} {'ratio':>7} {'ORT f/s':>8}")
    write_result(args.json, {"benchmark": "decode", "targets": {"speedup": 1.5, "detail_fps_b1": 60},
                             "decode": bench_decode(folder, args.seconds)})


if __name__ == "__main__":
    main()
