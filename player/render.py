"""Frames to files without a window: MP4 (PyAV, H.264), GIF, or a folder of PNGs; and the headless
throughput run. Used by --out, by the window's V recording and by `make demo`."""

import os
import time
from fractions import Fraction

import numpy as np
from PIL import Image

from dvtex.errors import UserError

VIDEO_EXTS = (".mp4", ".mkv", ".mov", ".webm")


NTSC = {Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001), Fraction(120000, 1001)}


def frame_rate(fps):
    """A container's exact rate for any rate a user types: 29.97 is NTSC's 30000/1001, 12.5 is 25/2."""
    for rate in NTSC:
        if abs(float(rate) - fps) < 5e-3:
            return rate
    return Fraction(fps).limit_denominator(1000)


class VideoWriter:
    """H.264 in MP4/MKV/MOV, VP9 in WebM, at a fixed frame rate; frames are uint8 (H, W, 3). With `audio`
    (mono float32 samples, samplerate) an AAC track of the same duration is muxed in at close."""

    def __init__(self, path, fps, width, height, audio=None, intra=False):
        import av

        self.path, self.frames, self.fps, self.audio = path, 0, fps, audio
        webm = path.lower().endswith(".webm")
        self.container = av.open(path, "w")
        self.stream = self.container.add_stream("libvpx-vp9" if webm else "libx264", rate=frame_rate(fps))
        self.stream.width, self.stream.height = width + width % 2, height + height % 2  # yuv420p needs even sizes
        self.stream.pix_fmt = "yuv420p"
        # VP9 for web pages (<video autoplay loop muted playsinline>): constant quality, every frame kept
        self.stream.options = {"crf": "30", "b": "0", "deadline": "good", "cpu-used": "4"} if webm else \
            {"crf": "18", "preset": "veryfast"}
        if intra:  # a loop: every frame a keyframe, so coding noise is no different across the seam than inside
            self.stream.options = {**self.stream.options, "g": "1"}
        if audio is not None:
            self.audio_stream = self.container.add_stream("aac", rate=audio[1], layout="mono")

    def write(self, frame):
        import av

        if frame.shape[1] != self.stream.width or frame.shape[0] != self.stream.height:
            frame = np.pad(frame, ((0, self.stream.height - frame.shape[0]), (0, self.stream.width - frame.shape[1]), (0, 0)))
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self.container.mux(packet)
        self.frames += 1

    def close(self):
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        if self.audio is not None:
            self._write_audio()
        self.container.close()

    def _write_audio(self):
        import av

        samples, rate = self.audio
        count = round(self.frames / self.fps * rate)  # exactly as long as the video
        samples = np.pad(samples[:count], (0, max(0, count - len(samples)))).astype(np.float32)
        for start in range(0, count, 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in self.audio_stream.encode(frame):
                self.container.mux(packet)
        for packet in self.audio_stream.encode(None):
            self.container.mux(packet)


class GifWriter:
    """An animated GIF (frames kept until close: meant for short clips)."""

    def __init__(self, path, fps, width, height):
        self.path, self.fps, self.images, self.frames = path, fps, [], 0

    def write(self, frame):
        self.images.append(Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.MEDIANCUT))
        self.frames += 1

    def close(self):
        if self.images:
            self.images[0].save(self.path, save_all=True, append_images=self.images[1:], loop=0,
                                duration=max(20, round(1000 / self.fps)), optimize=False)


class PngWriter:
    """A folder of frame_000000.png, frame_000001.png, ..."""

    def __init__(self, path, fps, width, height):
        os.makedirs(path, exist_ok=True)
        self.path, self.frames = path, 0

    def write(self, frame):
        Image.fromarray(frame).save(os.path.join(self.path, f"frame_{self.frames:06d}.png"))
        self.frames += 1

    def close(self):
        pass


def writer_class(path):
    """The writer a name asks for (.mp4/.mkv/.mov video, .gif, else a folder of PNGs), checked before
    any work: a folder that does not exist or cannot be written, or an unknown extension, is refused."""
    ext = os.path.splitext(path)[1].lower()
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"--out {path}: folder {folder} does not exist; create it or write elsewhere")
    if not os.access(folder, os.W_OK):
        raise UserError(f"--out {path}: folder {folder} is not writable; write elsewhere")
    if ext in VIDEO_EXTS:
        return VideoWriter
    if ext == ".gif":
        return GifWriter
    if ext and not os.path.isdir(path):
        raise UserError(f"--out {path}: write .mp4, .mkv, .mov, .gif, or a folder name for PNGs")
    return PngWriter


def open_writer(path, fps, width, height, audio=None, loop=False):
    """A writer chosen by the name (see writer_class); `audio` is muxed into a video; a `loop` is coded
    intra-only so that it repeats without a seam."""
    cls = writer_class(path)
    if cls is VideoWriter:
        return VideoWriter(path, fps, width, height, audio, intra=loop)
    return cls(path, fps, width, height)


def render(source, frames, writer, audio=None):
    """Make `frames` frames of a FrameSource into `writer`; with an offline `audio` (FileAudio), frame i
    reacts to the sound up to i / fps. Returns frames per second."""
    frame = np.zeros(source.frame_shape, np.uint8)
    t0 = time.perf_counter()
    try:
        for i in range(frames):
            writer.write(source.produce(frame, audio.block_for_frame(i) if audio is not None else None))
    finally:
        writer.close()
    if writer.frames != frames or (writer.path != "-" and not os.path.exists(writer.path)):  # never report frames that are not there
        raise UserError(f"--out {writer.path}: {writer.frames} of {frames} frames were written")
    return frames / max(time.perf_counter() - t0, 1e-9)
