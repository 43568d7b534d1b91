"""Playlist: several models in turn, scaled to one output size, with crossfades; a frame source like
FrameSource, so the window, the headless show, the outputs and offline renders play it unchanged.

Each model keeps its own latent process. Outside a fade only the current model decodes; during a
fade of F seconds both decode and the picture is (1 - w) a + w b, w rising linearly over the fade's
frames. Models of another size are scaled to the output size (the largest model's) by a fixed
nearest-neighbour map, computed once, so scaling allocates nothing per frame.
"""

from dataclasses import dataclass

import numpy as np

from dvtex.player.control import Controls


@dataclass
class OutputInfo:
    path: str
    width: int
    height: int

    @property
    def frame_shape(self):
        return (self.height, self.width, 3)


class Scaled:
    """One model of a playlist: its source, its native frame buffer and its map to the output size."""

    def __init__(self, source, shape):
        self.source = source
        self.native = np.zeros(source.frame_shape, np.uint8)
        h, w = source.frame_shape[:2]
        self.same = (h, w) == tuple(shape[:2])
        self.rows = (np.arange(shape[0]) * h // shape[0])[:, None]
        self.cols = (np.arange(shape[1]) * w // shape[1])[None, :]

    def produce(self, out, block=None):
        if self.same:
            return self.source.produce(out, block)
        self.source.produce(self.native, block)
        out[...] = self.native[self.rows, self.cols]
        return out


class Playlist:
    def __init__(self, sources, fps, switch_every=None, crossfade=0.0, shuffle=False, seed=0, log=print):
        self.models = list(sources)
        h = max(s.frame_shape[0] for s in self.models)
        w = max(s.frame_shape[1] for s in self.models)
        self.info = OutputInfo(" + ".join(s.info.path for s in self.models), w, h)
        self.frame_shape = self.info.frame_shape
        self.scaled = [Scaled(s, self.frame_shape) for s in self.models]
        self.fps, self.log = fps, log
        self.switch_frames = max(1, round(switch_every * fps)) if switch_every else None
        self.crossfade = crossfade
        self.order = list(range(len(self.models)))
        self.rng = np.random.default_rng(seed + 3)
        if shuffle:
            self.rng.shuffle(self.order)
        self.position = 0  # index into order
        self.current = self.order[0]
        self.target, self.fade_frames, self.fade_done = None, 0, 0
        self.since_switch = 0
        self.steps = 0
        self._b = np.zeros(self.frame_shape, np.uint8)
        self._mix = np.zeros(self.frame_shape, np.float32)
        self._tmp = np.zeros(self.frame_shape, np.float32)
        self.reactor = None
        self.controls = Controls(self)

    @property
    def provider(self):
        return self.models[0].provider

    # the controls act on every model, so a switch keeps the show's settings
    @property
    def speed(self):
        return self.models[self.current].speed

    @speed.setter
    def speed(self, s):
        for m in self.models:
            m.speed = s

    @property
    def gain(self):
        return self.models[self.current].gain

    @gain.setter
    def gain(self, g):
        for m in self.models:
            m.gain = g

    @property
    def seed(self):
        return self.models[self.current].seed

    def reseed(self, seed=None):
        for i, m in enumerate(self.models):
            m.reseed(None if seed is None else seed + i)

    def select(self, index):
        """Fade (or cut, with no crossfade) to model `index`."""
        if not 0 <= index < len(self.models):
            raise ValueError(f"model {index}: the playlist has {len(self.models)} (0..{len(self.models) - 1})")
        if index == self.current and self.target is None:
            return
        self.target = index
        self.fade_frames = max(0, round(self.crossfade * self.fps))
        self.fade_done, self.since_switch = 0, 0  # --switch-every counts from the start of a switch
        self.position = self.order.index(index)
        self.log(f"-> {self.models[index].info.path}" + (f" ({self.crossfade:g} s crossfade)" if self.fade_frames else ""))

    def advance(self, by=1):
        self.select(self.order[(self.order.index(self.target if self.target is not None else self.current) + by)
                               % len(self.order)])

    def produce(self, out, block=None):
        """The next output frame: the current model's, or the blend of two during a fade."""
        kick = self.controls.apply()
        if kick:
            self.models[self.current].controls.kick(kick)
        self.steps += 1
        if self.switch_frames and self.target is None and self.since_switch >= self.switch_frames:
            self.advance(1)
        self.since_switch += 1
        if self.target is not None and self.fade_done >= self.fade_frames:
            self.current, self.target = self.target, None
        self.scaled[self.current].produce(out, block)
        if self.target is None:
            return out
        self.fade_done += 1
        w = self.fade_done / (self.fade_frames + 1)
        self.scaled[self.target].produce(self._b, block)
        np.multiply(out, np.float32(1 - w), out=self._mix, dtype=np.float32)  # (1 - w) a + w b, in float32
        np.multiply(self._b, np.float32(w), out=self._tmp, dtype=np.float32)
        self._mix += self._tmp
        np.rint(self._mix, out=self._mix)
        out[...] = self._mix
        return out

    def describe(self):
        name = self.models[self.current].info.path
        fade = f" -> {self.models[self.target].info.path}" if self.target is not None else ""
        return f"playlist {self.position + 1}/{len(self.models)}: {name}{fade}"

    def close(self):
        for m in self.models:
            m.close()
