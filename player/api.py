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

from dvtex.player.source import FrameSource


class TextureStream(FrameSource):
    """A FrameSource opened from a model file, with iteration and its own sound source."""

    def __init__(self, path, seed=0, provider="auto", start=0, speed=1.0, gain=1.0, threads=2, audio=None,
                 react=None):
        opened = FrameSource.open(path, seed=seed, provider=provider, start=start, speed=speed, gain=gain,
                                  threads=threads)
        super().__init__(opened.decoder, opened.latent)
        self.audio = audio
        if audio is not None:
            self.react_to(audio, react, seed=seed)

    def next_frame(self, out=None):
        """The next frame, uint8 (H, W, 3): a new array, or written into `out` (no allocation)."""
        return self.produce(np.empty(self.frame_shape, np.uint8) if out is None else out)

    def __iter__(self):
        while True:
            yield self.next_frame()

    def close(self):
        if self.audio is not None:
            self.audio.close()
        super().close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
