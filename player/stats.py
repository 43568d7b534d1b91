"""Playback statistics in fixed memory: frame intervals and decode times in rings, RSS, drops."""

import os
import resource
import time

import numpy as np

from dvtex import fileio

RING = 8192  # percentiles over the last this many frames: enough for p99, constant memory


def rss_mb():
    """Resident set size now, in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Ring:
    def __init__(self):
        self.values = np.zeros(RING)
        self.count = 0

    def add(self, value):
        self.values[self.count % RING] = value
        self.count += 1

    def filled(self):
        return self.values[: min(self.count, RING)]

    def percentiles(self, *qs):
        data = self.filled()
        return [float(np.percentile(data, q)) if len(data) else 0.0 for q in qs]


class PlaybackStats:
    def __init__(self, fps_target, provider, t_start=None):
        self.fps_target, self.provider = fps_target, provider
        self.t_start = time.perf_counter() if t_start is None else t_start
        self.rss_start = rss_mb()
        self.intervals, self.errors, self.decodes = _Ring(), _Ring(), _Ring()
        self.frames = self.dropped = 0
        self.first_frame_ms = None
        self._last = None

    def decoded(self, ms):
        self.decodes.add(ms)

    def shown(self, now, new):
        """A display tick at perf_counter() time `now`; `new` is False when the frame was repeated."""
        if self.first_frame_ms is None:
            self.first_frame_ms = (now - self.t_start) * 1000
        if self._last is not None:
            interval = (now - self._last) * 1000
            self.intervals.add(interval)
            self.errors.add(abs(interval - 1000 / self.fps_target))  # pacing error |interval - 1/fps|
        self._last = now
        self.frames += 1
        self.dropped += 0 if new else 1

    def fps_now(self, frames=30):
        """The frame rate over the last `frames` intervals."""
        count = self.intervals.count
        if count == 0:
            return 0.0
        last = np.arange(count - min(count, frames), count) % RING
        return 1000.0 / float(self.intervals.values[last].mean())

    def summary(self):
        p50, p99, worst = self.intervals.percentiles(50, 99, 100)
        d50, d99 = self.decodes.percentiles(50, 99)
        e50, e99, emax = self.errors.percentiles(50, 99, 100)
        return {"frames": self.frames, "fps_target": self.fps_target,
                "interval_ms": {"p50": p50, "p99": p99, "max": worst},
                "pacing_error_ms": {"p50": e50, "p99": e99, "max": emax}, "dropped": self.dropped,
                "decode_ms": {"p50": d50, "p99": d99},
                "first_frame_ms": self.first_frame_ms, "provider": self.provider,
                "rss_mb": {"start": self.rss_start, "end": rss_mb()}}

    def write_json(self, path):
        fileio.write_json(path, self.summary())
