"""Controls: the one live control surface. Keys, OSC, MIDI and the embedding API all go through it.

Every method is thread-safe and never blocks: it records the request, and the frame producer applies
it just before it makes its next frame (`apply`), so a message arriving on a network thread changes the
very next frame and never holds up the clock. Values are clamped to the bounds the keys use.
"""

import threading

import numpy as np

from dvtex.player.stream import GAIN_RANGE, SPEED_RANGE

REACT_RANGE = (0.0, 10.0)
KICK_RANGE = (0.0, 10.0)
ROUTES = ("gain", "kick", "speed")
CROSSFADE_RANGE = (0.0, 60.0)


def clamp(value, bounds):
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    return float(min(max(value, bounds[0]), bounds[1]))


class Controls:
    """Live parameters of one FrameSource; pause and step go to its producer when one runs it."""

    def __init__(self, source, producer=None):
        self.source, self.producer = source, producer
        self._lock = threading.Lock()
        self._pending = {}  # name -> value, the latest request of each kind wins
        self._kick = 0.0
        self.applied = 0  # requests applied so far (benchmarks: when a message reached a frame)
        self.applied_at_step = None  # the latent step of the first frame made after the latest request

    # what front ends call
    def set_speed(self, value):
        self._request("speed", clamp(value, SPEED_RANGE))

    def set_gain(self, value):
        self._request("gain", clamp(value, GAIN_RANGE))

    def scale_speed(self, factor):
        self.set_speed(self.speed * factor)

    def add_gain(self, delta):
        self.set_gain(self.gain + delta)

    def set_react(self, route, value):
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; routes: {', '.join(ROUTES)}")
        self._request(f"react_{route}", clamp(value, REACT_RANGE))

    def kick(self, strength=1.0):
        """A one-frame burst of innovation (a manual beat), added to the next frame."""
        with self._lock:
            self._kick = min(self._kick + clamp(strength, KICK_RANGE), KICK_RANGE[1])

    def set_paused(self, paused):
        if self.producer is not None:
            self.producer.set_paused(bool(paused))

    def toggle_pause(self):
        self.set_paused(not self.paused)

    def step(self):
        if self.producer is not None:
            self.producer.step()

    def reseed(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"a seed is a whole number >= 0, not {seed!r}")
        self._request("reseed", None if seed is None else int(seed))

    def select_model(self, index):
        """A playlist's model `index` (0-based), faded to with its crossfade."""
        self._request("model", int(index))

    def next_model(self, by=1):
        self._request("next", int(by))

    def set_crossfade(self, seconds):
        self._request("crossfade", clamp(seconds, CROSSFADE_RANGE))

    # what they read
    @property
    def speed(self):
        return self._pending.get("speed", self.source.speed)

    @property
    def gain(self):
        return self._pending.get("gain", self.source.gain)

    @property
    def paused(self):
        return self.producer is not None and self.producer.paused

    @property
    def seed(self):
        return self.source.seed

    def _request(self, name, value):
        with self._lock:
            self._pending[name] = value

    def apply(self):
        """Where frames are made (FrameSource.produce), before each frame: apply what was asked since
        the last frame. Returns the manual kick strength for this frame (0 for none)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            kick, self._kick = self._kick, 0.0
        if not pending and not kick:
            return 0.0
        for name, value in sorted(pending.items(), key=lambda item: item[0] != "crossfade"):  # a fade's length first
            if name == "speed":
                self.source.speed = value
            elif name == "gain":
                self.source.gain = value
            elif name == "reseed":
                self.source.reseed(value)
            elif name.startswith("react_") and self.source.reactor is not None:
                setattr(self.source.reactor.reaction, name[len("react_"):], value)
            elif name in ("model", "next", "crossfade") and hasattr(self.source, "select"):  # a playlist
                if name == "model" and 0 <= value < len(self.source.models):
                    self.source.select(value)
                elif name == "next":
                    self.source.advance(value)
                elif name == "crossfade":
                    self.source.crossfade = value
        self.applied += len(pending) + bool(kick)
        self.applied_at_step = self.source.steps + 1
        return kick
