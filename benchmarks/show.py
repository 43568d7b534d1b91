"""Show benchmarks, torch-free, on the bundled 64x64 demo model (player/demo/fire64.onnx) or --model,
30 FPS, under Xvfb:

  1. OSC latency: a /dvtex/gain message to the first displayed frame made after it reached the
     controls (target: at most 2 frames at 30 FPS), in a window
  2. pacing with a window + an NDI sender (a receiver connected and draining) + a UDP H.264 stream at
     once (target: p99 |interval - 1/fps| <= 3 ms, no dropped frame)
  3. crossfades: a window playing a two-model playlist (the demo model twice: two decoders, two latent
     processes), switching every 2 s with a 1 s crossfade, so half the time both decode (target as 2.)
  4. soak: the headless show streaming to NDI and UDP for --soak-minutes; RSS sampled every 30 s
     (target: flat, growth after warm-up <= 2 MiB); --soak-minutes 0 skips it and keeps the last
     soak's figures in the JSON, marked carried_over

    xvfb-run -a python benchmarks/show.py --json benchmarks/results/show.json
"""

import argparse
import json
import os
import socket
import statistics
import threading
import time

from common import write_result
from pythonosc.udp_client import SimpleUDPClient

from dvtex.player.cli import DEMO
from dvtex.player.osc import OscControl
from dvtex.player.outputs import NDIOutput, Outputs, StreamOutput
from dvtex.player.producer import FrameProducer
from dvtex.player.show import HeadlessShow
from dvtex.player.source import FrameSource
from dvtex.player.stats import PlaybackStats, rss_mb


def udp_sink():
    """A bound socket that drains what the stream sends (so the sender never sees 'unreachable')."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.2)
    stop = threading.Event()

    def drain():
        while not stop.is_set():
            try:
                sink.recv(65536)
            except socket.timeout:
                pass

    threading.Thread(target=drain, daemon=True).start()
    return sink.getsockname()[1], stop


def ndi_receiver(stop):
    import NDIlib as ndi

    settings = ndi.RecvCreateV3()
    receiver = ndi.recv_create_v3(settings)
    source = ndi.Source()
    source.url_address = "127.0.0.1:5961"
    ndi.recv_connect(receiver, source)
    frames = [0]

    def drain():
        while not stop.is_set():
            kind, video, _, _ = ndi.recv_capture_v2(receiver, 100)
            if kind == ndi.FRAME_TYPE_VIDEO:
                frames[0] += 1
                ndi.recv_free_video_v2(receiver, video)
        ndi.recv_destroy(receiver)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return frames, thread


SMALL_DEMO = os.path.join(os.path.dirname(DEMO), "fire64.onnx")


def window_for(producer, fps, stats):
    from dvtex.player.window import PlayerWindow

    return PlayerWindow(producer, fps, stats, size=(512, 512), log=lambda m: None)


def bench_osc_latency(model, fps, messages):
    source = FrameSource.open(model, provider="cpu")
    producer = FrameProducer(source, PlaybackStats(fps, source.provider)).start()
    window = window_for(producer, fps, producer.stats)
    steps, shown = [], {}
    apply, flipped = source.controls.apply, producer.stats.shown

    def logged_apply():  # the latent step of the frame each message went into
        before = source.controls.applied
        kick = apply()
        if source.controls.applied != before:
            steps.append(source.controls.applied_at_step)
        return kick

    def timed_flip(now, new):  # called just after the window's flip, with the frame it took
        if new:
            shown.setdefault(producer.shown_index, now)
        flipped(now, new)

    source.controls.apply, producer.stats.shown = logged_apply, timed_flip
    osc = OscControl(source.controls, "127.0.0.1", 0).start()
    client, sent = SimpleUDPClient(*osc.address), []

    def send():
        for i in range(messages):
            time.sleep(0.25)
            sent.append(time.perf_counter())
            client.send_message("/dvtex/gain", 0.5 + (i % 2))

    sender = threading.Thread(target=send)
    sender.start()
    window.run(int((messages * 0.25 + 1) * fps))
    sender.join()
    osc.close()
    producer.stop()
    window.close()
    latencies = [(shown[step] - t) * 1000 for t, step in zip(sent, steps) if step in shown]
    return {"messages": messages, "reached_a_frame": len(latencies), "latency_ms_median": statistics.median(latencies),
            "latency_ms_max": max(latencies), "latency_frames_max": max(latencies) * fps / 1000}


def bench_pacing(model, fps, seconds):
    port, stop_sink = udp_sink()
    source = FrameSource.open(model, provider="cpu")
    stats = PlaybackStats(fps, source.provider)
    height, width, _ = source.frame_shape
    ndi_out = NDIOutput("dvtex-bench", fps, width, height)
    stop = threading.Event()
    received, receiver = ndi_receiver(stop)
    stream = StreamOutput(f"udp://127.0.0.1:{port}", fps, width, height)
    producer = FrameProducer(source, stats).start()
    window = window_for(producer, fps, stats)
    window.outputs = Outputs([ndi_out, stream], log=print)
    window.run(int(seconds * fps))
    producer.stop()
    window.close()
    stop.set()
    receiver.join(timeout=5)
    window.outputs.close()
    stop_sink.set()
    s = stats.summary()
    return {"fps": fps, "seconds": seconds, "frames": s["frames"], "pacing_error_ms_p99": s["pacing_error_ms"]["p99"],
            "pacing_error_ms_max": s["pacing_error_ms"]["max"], "dropped": s["dropped"], "ndi_sent": ndi_out.sent,
            "ndi_received": received[0], "stream_sent": stream.sent}


def bench_crossfade(model, fps, seconds):
    from dvtex.player.playlist import Playlist

    playlist = Playlist([FrameSource.open(model, provider="cpu", seed=s) for s in (0, 1)], fps, switch_every=2.0,
                        crossfade=1.0, log=lambda m: None)
    stats = PlaybackStats(fps, playlist.provider)
    producer = FrameProducer(playlist, stats).start()
    window = window_for(producer, fps, stats)
    window.run(int(seconds * fps))
    producer.stop()
    window.close()
    s = stats.summary()
    return {"fps": fps, "seconds": seconds, "frames": s["frames"], "pacing_error_ms_p99": s["pacing_error_ms"]["p99"],
            "pacing_error_ms_max": s["pacing_error_ms"]["max"], "dropped": s["dropped"],
            "decode_ms_p99": s["decode_ms"]["p99"]}


def bench_soak(model, fps, minutes):
    port, stop_sink = udp_sink()
    source = FrameSource.open(model, provider="cpu")
    stats = PlaybackStats(fps, source.provider)
    height, width, _ = source.frame_shape
    outputs = Outputs([NDIOutput("dvtex-soak", fps, width, height),
                       StreamOutput(f"udp://127.0.0.1:{port}", fps, width, height)])
    producer = FrameProducer(source, stats).start()
    show = HeadlessShow(producer, fps, stats, outputs)
    samples, start = [], time.monotonic()

    def sample():
        while not show.stopped:
            samples.append({"minutes": round((time.monotonic() - start) / 60, 2), "rss_mb": rss_mb()})
            time.sleep(30)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threading.Timer(minutes * 60, lambda: setattr(show, "stopped", True)).start()
    show.run()
    producer.stop()
    outputs.close()
    stop_sink.set()
    warm = next(s["rss_mb"] for s in samples if s["minutes"] >= min(1.0, minutes / 2))
    s = stats.summary()
    return {"minutes": minutes, "frames": s["frames"], "dropped": s["dropped"], "rss_mb_after_warmup": warm,
            "rss_mb_end": samples[-1]["rss_mb"], "growth_mb": samples[-1]["rss_mb"] - warm, "samples": samples}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", default="benchmarks/results/show.json")
    p.add_argument("--model", default=SMALL_DEMO, help="the model to show (default: the 64x64 demo)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--messages", type=int, default=40)
    p.add_argument("--pace-seconds", type=float, default=20.0)
    p.add_argument("--soak-minutes", type=float, default=30.0)
    args = p.parse_args()
    if not os.environ.get("DISPLAY"):
        raise SystemExit("benchmarks/show.py needs a display: run it under xvfb-run")
    result = {"benchmark": "show", "model": os.path.basename(args.model),
              "targets": {"latency_frames_max": 2, "pacing_error_ms_p99": 3.0, "dropped": 0, "growth_mb": 2.0}}
    result["osc_latency"] = r = bench_osc_latency(args.model, args.fps, args.messages)
    print(f"1. OSC -> displayed frame at {args.fps:g} FPS: median {r['latency_ms_median']:.1f} ms, "
          f"max {r['latency_ms_max']:.1f} ms ({r['latency_frames_max']:.2f} frames), {r['reached_a_frame']} of {r['messages']}")
    result["pacing"] = r = bench_pacing(args.model, args.fps, args.pace_seconds)
    print(f"2. window + NDI + UDP stream, {r['seconds']:g} s: p99 jitter {r['pacing_error_ms_p99']:.2f} ms, "
          f"max {r['pacing_error_ms_max']:.2f} ms, {r['dropped']} dropped; NDI {r['ndi_sent']} sent, "
          f"{r['ndi_received']} received; stream {r['stream_sent']} sent")
    result["crossfade"] = r = bench_crossfade(args.model, args.fps, args.pace_seconds)
    print(f"3. playlist crossfading half the time, {r['seconds']:g} s: p99 jitter {r['pacing_error_ms_p99']:.2f} ms, "
          f"max {r['pacing_error_ms_max']:.2f} ms, {r['dropped']} dropped; decode+blend p99 {r['decode_ms_p99']:.2f} ms")
    if args.soak_minutes:
        result["soak"] = r = bench_soak(args.model, args.fps, args.soak_minutes)
        print(f"4. {r['minutes']:g} min headless to NDI + UDP: {r['frames']} frames, {r['dropped']} dropped, RSS "
              f"{r['rss_mb_after_warmup']:.1f} -> {r['rss_mb_end']:.1f} MiB ({r['growth_mb']:+.2f} MiB)")
    elif os.path.exists(args.json):
        with open(args.json) as f:
            last = json.load(f)
        if "soak" in last and last.get("model") == result["model"]:
            result["soak"] = {**last["soak"], "carried_over": True}
            print("4. soak skipped (--soak-minutes 0): the last one's figures are kept, marked carried_over")
    write_result(args.json, result)


if __name__ == "__main__":
    main()
