"""TextureStream: a dvtex texture as an endless source of frames, for apps that embed one.

    from dvtex.player import TextureStream
    with TextureStream("fire.onnx", seed=0) as tex:
        frame = tex.next_frame()          # uint8 (H, W, 3)
        tex.speed, tex.gain = 1.5, 0.8    # live controls
        for frame in tex: ...             # forever

The same seed gives the same frames as `dvtex-play --seed`. For a pyglet app, wrap it in
`dvtex.player.window.TextureBackground` and draw that first in on_draw. Sound drives it when given
an audio source: `TextureStream(path, audio=LiveInput(None, fps=30))` or
`audio=FileAudio("song.wav", fps=30).start()` (dvtex.player.audio).
"""

import numpy as np

from dvtex.player.decoder import FrameDecoder
from dvtex.player.stream import LatentStream


class TextureStream:
    def __init__(self, path, seed=0, provider="auto", start=0, speed=1.0, gain=1.0, threads=2, audio=None,
                 react=None):
        self.decoder = FrameDecoder(path, provider, batch=1, threads=threads)
        self.info = self.decoder.info
        self.latent = LatentStream(self.info, seed=seed, start=start, speed=speed, gain=gain)
        self.audio = audio
        self.burst_source = None  # once a frame: -> (n,) innovation burst or None
        if audio is not None:
            from dvtex.player.audio import AudioReactor

            self.burst_source = AudioReactor(audio, self.latent, react, seed=seed)

    @property
    def frame_shape(self):
        return self.info.frame_shape

    @property
    def provider(self):
        return self.decoder.provider

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

    def next_frame(self, out=None):
        """The next frame, uint8 (H, W, 3): a new array, or written into `out` (no allocation)."""
        if out is None:
            out = np.empty(self.frame_shape, np.uint8)
        h = self.latent.step(self.burst_source() if self.burst_source else None)
        self.decoder.decode(h, out[None])
        return out

    def __iter__(self):
        while True:
            yield self.next_frame()

    def reseed(self, seed=None):
        self.latent.reseed(seed)

    def close(self):
        if self.audio is not None:
            self.audio.close()
        self.decoder.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
