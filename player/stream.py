"""LatentStream: the texture's latent process in numpy, one state per displayed frame.

    h <- A_s h + B_s (g v + burst),   v ~ N(0, I)

A_s, B_s are the model's stationary (A, B) scaled to speed s (dvtex.dynamics.TimeScaler); g is
the noise gain (1 = the trained statistics). Both change live, as the user's setting times an audio
multiplier (1 without sound). No allocation per step at a steady speed.
"""

import numpy as np

from dvtex.dynamics import TimeScaler

SPEED_RANGE = (1 / 64, 64.0)
GAIN_RANGE = (0.0, 3.0)


class LatentStream:
    def __init__(self, info, seed=0, start=0, speed=1.0, gain=1.0):
        """start: the index of a stored initial state h0, or 'random' for a stationary N(0, I) draw."""
        self.info = info
        self.scaler = TimeScaler(info.A)
        self._h = np.zeros(info.n)
        self._v = np.zeros(info.n)
        self._ah, self._bv = np.zeros(info.n), np.zeros(info.n)
        self._out = np.zeros((1, info.n), np.float32)
        self.start = start
        self.speed, self.gain = speed, gain
        self.audio_speed = self.audio_gain = 1.0
        self.steps = 0
        self.reseed(seed)

    @property
    def speed(self):
        return self._speed

    @speed.setter
    def speed(self, s):
        self._speed = float(np.clip(s, *SPEED_RANGE))

    @property
    def gain(self):
        return self._gain

    @gain.setter
    def gain(self, g):
        self._gain = float(np.clip(g, *GAIN_RANGE))

    def initial_state(self):
        if self.start == "random" or not len(self.info.h0):
            return self.rng.standard_normal(self.info.n)
        k = int(self.start)
        if not 0 <= k < len(self.info.h0):
            raise IndexError(f"start {k}: the model stores {len(self.info.h0)} initial states (0..{len(self.info.h0) - 1})")
        return self.info.h0[k]

    def reseed(self, seed=None):
        """A fresh noise sequence (a new random seed when None) from the starting state."""
        self.seed = int(np.random.SeedSequence().entropy % 2**31) if seed is None else int(seed)
        self.rng = np.random.default_rng(self.seed)
        self._h[:] = self.initial_state()
        self._out[0] = self._h
        self.steps = 0
        self._fresh = True  # the first frame shows h_0 itself (the paper's Eq. 9)

    @property
    def h(self):
        """The current state as float32 (1, n): the decoder's input. A view, updated in place."""
        return self._out

    def step(self, burst=None):
        """The state for the next frame: h_0 first, then one step of the recursion per call.
        `burst` (n,) is extra innovation for this step only (audio onsets)."""
        if self._fresh and burst is None:
            self._fresh = False
            return self._out
        self._fresh = False
        A_s, B_s = self.scaler(float(np.clip(self._speed * self.audio_speed, *SPEED_RANGE)))
        self.rng.standard_normal(out=self._v)
        self._v *= min(self._gain * self.audio_gain, GAIN_RANGE[1])
        if burst is not None:
            self._v += burst
        np.dot(A_s, self._h, out=self._ah)
        np.dot(B_s, self._v, out=self._bv)
        np.add(self._ah, self._bv, out=self._h)
        self._out[0] = self._h
        self.steps += 1
        return self._out


class LoopStream(LatentStream):
    """A perfect loop of `frames` states (dvtex.player.loop), played round and round. The loop is drawn
    for the speed it plays at; a new speed (or reseed) draws a new loop, taken at the next seam so the
    picture never jumps. Noise gain and kicks act on a free process, so a loop ignores them."""

    def __init__(self, info, frames, seed=0, speed=1.0, gain=1.0):
        self.frames = int(frames)
        self._loop, self._loop_speed, self._index = None, None, 0
        super().__init__(info, seed=seed, start="random", speed=speed, gain=gain)

    def _draw(self):
        from dvtex.player.loop import perfect_loop

        A_s, B_s = self.scaler(self._speed)
        self._loop = perfect_loop(A_s, B_s, self.frames, np.random.default_rng([self.seed, 17])).astype(np.float32)
        self._loop_speed = self._speed

    def reseed(self, seed=None):
        super().reseed(seed)
        self._loop, self._index = None, 0  # a new loop from the new seed, from its start

    def step(self, burst=None):
        """The next state of the loop; at the seam, a new loop if the speed changed."""
        if self._loop is None or (self._index == 0 and self._loop_speed != self._speed):
            self._draw()
        self._out[0] = self._loop[self._index]
        self._index = (self._index + 1) % self.frames
        self.steps += 1
        return self._out

    def states(self):
        """The whole loop, (frames, n) float32 (drawn at the current speed if not yet)."""
        if self._loop is None:
            self._draw()
        return self._loop
