"""Audio-to-frame latency: from a sound block's hand-over (where the PortAudio callback puts it) to
the display of the first frame that its onset moved.

A click track is fed in real time by FileAudio's feeder thread (the same hand_over() the
sounddevice callbacks use; this machine has no sound card) into a real player window under Xvfb at
--fps. Device latency (the sound card's own buffers) comes on top and is not measured here.
Target: an onset reaches the screen within 2 frames of its block's arrival.

    xvfb-run -a python benchmarks/audio.py --json benchmarks/results/audio.json
"""

import argparse
import os
import tempfile
import time
import wave

import numpy as np
from common import write_result

from dvtex.player.cli import DEMO

from dvtex.player.audio import FileAudio
from dvtex.player.producer import FrameProducer
from dvtex.player.stats import PlaybackStats
from dvtex.player.source import FrameSource

RATE = 48000


def click_track(path, seconds, every):
    x = np.zeros(int(seconds * RATE), np.float32)
    for t in np.arange(every, seconds, every):
        x[int(t * RATE):int(t * RATE) + 48] = 0.9
    with wave.open(path, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE)
        w.writeframes((x * 32767).astype("<i2").tobytes())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fps", type=float, default=30)
    p.add_argument("--seconds", type=float, default=12)
    p.add_argument("--json", default="benchmarks/results/audio.json")
    args = p.parse_args()
    folder = tempfile.mkdtemp(prefix="dvtex-audio-")
    click_track(os.path.join(folder, "clicks.wav"), args.seconds, 0.5)
    source = FrameSource.open(DEMO, seed=0, provider="cpu")
    audio = FileAudio(os.path.join(folder, "clicks.wav"), args.fps, play=False)
    arrivals, kicks, shown = [], {}, {}
    hand_over = audio.hand_over

    def timed_hand_over(block):  # note when a block with a click arrives
        if np.abs(block).max() > 0.5:
            arrivals.append(time.perf_counter())
        hand_over(block)

    audio.hand_over = timed_hand_over
    reactor = source.react_to(audio).reactor

    def burst(block=None):
        b = reactor(block)
        if b is not None and reactor.onset_peak > 0.25:
            kicks.setdefault(source.steps + 1, time.perf_counter())  # the frame this burst goes into
        return b

    source.reactor = burst

    from dvtex.player.window import PlayerWindow

    stats = PlaybackStats(args.fps, source.provider)
    producer = FrameProducer(source, stats).start()
    window = PlayerWindow(producer, args.fps, stats, size=(256, 256))
    take = producer.take

    def timed_take():
        frame, new = take()
        if new:
            shown.setdefault(producer.shown_index, time.perf_counter())
        return frame, new

    producer.take = timed_take
    audio.start()
    window.run(int(args.seconds * args.fps))
    producer.stop()
    window.close()
    audio.close()
    latencies, missed = [], 0
    for t_in in arrivals:  # the first burst within 250 ms of the click block (clicks are 500 ms apart)
        frame = min((f for f, t in kicks.items() if t_in <= t < t_in + 0.25), default=None)
        if frame is not None and frame in shown:
            latencies.append((shown[frame] - t_in) * 1000)
        else:
            missed += 1
    lat = np.array(latencies)
    period = 1000 / args.fps
    result = {"benchmark": "audio", "fps": args.fps, "clicks": len(arrivals), "measured": len(lat), "missed": missed,
              "latencies_ms": [round(v, 2) for v in lat],
              "latency_ms": {"p50": float(np.median(lat)), "p99": float(np.percentile(lat, 99)), "max": float(lat.max())},
              "latency_frames_max": float(lat.max() / period), "target_frames": 2.0,
              "passed": bool(lat.max() <= 2 * period), "dropped": stats.dropped}
    print(f"{'missed':>7} {'clicks':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'max frames':>11}  (1 frame = {period:.1f} ms)")
    print(f"{missed:>7} {len(lat):>7} {result['latency_ms']['p50']:>8.1f} {result['latency_ms']['p99']:>8.1f} "
          f"{result['latency_ms']['max']:>8.1f} {result['latency_frames_max']:>11.2f}")
    write_result(args.json, result)


if __name__ == "__main__":
    main()
