"""FrameSource: the one place where a frame is made. Advance the latent process one step (with any
audio burst) and decode the state into a given buffer.

The window's producer thread, the offline render, the throughput run and the embedding API
(TextureStream) all make their frames here, so one seed gives one sequence of frames everywhere.
Its live controls (speed, gain, reseed) are the ones every front end (keys, API) turns.
"""

import numpy as np

from dvtex.errors import UserError
from dvtex.player.audio_features import BURST_SCALE
from dvtex.player.control import Controls
from dvtex.player.decoder import FrameDecoder
from dvtex.player.stream import LatentStream, LoopStream


class FrameSource:
    def __init__(self, decoder, latent, reactor=None):
        self.decoder, self.latent = decoder, latent
        self.reactor = reactor  # AudioReactor: once a frame -> (n,) innovation burst or None
        self.controls = Controls(self)  # keys, OSC, MIDI and the API: applied before each frame
        self._kick = np.zeros(latent.info.n)
        self._kick_rng = np.random.default_rng(latent.seed + 2)

    @classmethod
    def open(cls, path, seed=0, provider="auto", start=0, speed=1.0, gain=1.0, threads=2, batch=1,
             cuda_graph=False, log=None, loop=None):
        """A model file's source; `loop=N` plays a perfect loop of N frames instead of the free process."""
        decoder = FrameDecoder(path, provider, batch=batch, threads=threads, cuda_graph=cuda_graph, log=log)
        try:
            latent = LoopStream(decoder.info, loop, seed=seed, speed=speed, gain=gain) if loop else \
                LatentStream(decoder.info, seed=seed, start=start, speed=speed, gain=gain)
        except IndexError as err:
            decoder.close()
            raise UserError(f"--start: {err}") from None
        return cls(decoder, latent)

    def react_to(self, audio, reaction=None, seed=0, log=print):
        """Let a sound source (dvtex.player.audio) drive the texture."""
        from dvtex.player.audio import AudioReactor

        self.reactor = AudioReactor(audio, self.latent, reaction, seed=seed, log=log)
        return self

    @property
    def info(self):
        return self.decoder.info

    @property
    def frame_shape(self):
        return self.decoder.info.frame_shape

    @property
    def provider(self):
        return self.decoder.provider

    @property
    def steps(self):
        return self.latent.steps

    def produce(self, out, block=None):
        """The next frame, written into `out` (uint8 (H, W, 3), C-contiguous). `block`: the sound of
        this frame for an offline render (a live reactor drains its queue instead)."""
        kick = self.controls.apply()
        burst = self.reactor(block) if self.reactor is not None else None
        if kick:  # a manual beat: a burst like an onset's, on top of any from the sound
            self._kick_rng.standard_normal(out=self._kick)
            self._kick *= BURST_SCALE * kick
            burst = self._kick if burst is None else burst + self._kick
        self.decoder.decode(self.latent.step(burst), out[None])
        return out

    def decode_rate(self, frames):
        """Decode as fast as possible, `decoder.batch` states a call: frames per second."""
        import time

        h = np.zeros((self.decoder.batch, self.info.n), np.float32)
        self.decoder.decode(h)  # warm-up: first runs allocate ONNX Runtime's arenas
        t0, done = time.perf_counter(), 0
        while done < frames:
            for row in h:
                row[:] = self.latent.step()[0]
            self.decoder.decode(h)
            done += self.decoder.batch
        return done / max(time.perf_counter() - t0, 1e-9)

    # live controls
    @property
    def speed(self):
        return self.latent.speed

    @speed.setter
    def speed(self, s):
        self.latent.speed = s

    @property
    def gain(self):
        return self.latent.gain

    @gain.setter
    def gain(self, g):
        self.latent.gain = g

    @property
    def seed(self):
        return self.latent.seed

    def reseed(self, seed=None):
        self.latent.reseed(seed)

    def close(self):
        self.decoder.close()
