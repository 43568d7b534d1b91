"""Outputs: where displayed frames go besides the window. Each is a small sender class with
`send(frame, index)`, `describe()` and `close()`; every output gets the same decoded frame (one
decode per frame, however many outputs). Spout, Syphon or a virtual camera would be one more class.

  NDIOutput      an NDI source (ndi-python) other apps (OBS, Resolume, TouchDesigner, vMix) receive
  StreamOutput   low-latency H.264 through PyAV: MPEG-TS over udp:// or srt://, FLV to rtmp://
  PipeOutput     raw rgb24 frames on stdout, for ffmpeg or GStreamer (--out -)
"""

import sys
import threading

import numpy as np

from dvtex.errors import UserError, first_line
from dvtex.player.render import frame_rate

STREAM_FORMATS = {"udp": "mpegts", "srt": "mpegts", "rtmp": "flv", "rtmps": "flv"}


def import_ndi():
    try:
        import NDIlib
    except ImportError:
        raise UserError('--ndi needs NDI: pip install "dvtex[show]" (ndi-python)') from None
    if not NDIlib.initialize():
        raise UserError("--ndi: the NDI runtime did not start on this machine (is the CPU supported?)")
    return NDIlib


class NDIOutput:
    """An NDI sender named `name`, RGBX frames at the display rate. Receivers find it by discovery
    (mDNS) or connect to it directly by address (port 5961 for the first sender on a machine)."""

    def __init__(self, name, fps, width, height):
        ndi = self.ndi = import_ndi()
        settings = ndi.SendCreate()
        settings.ndi_name = name
        settings.clock_video = False  # dvtex's clock paces; NDI must not block a send to re-pace it
        self.sender = ndi.send_create(settings)
        if self.sender is None:
            raise UserError(f"--ndi {name}: NDI could not create a sender")
        self.name, self.sent = name, 0
        self.rgbx = np.full((height, width, 4), 255, np.uint8)  # reused every frame
        self.video = ndi.VideoFrameV2()
        rate = frame_rate(fps)
        self.video.frame_rate_N, self.video.frame_rate_D = rate.numerator, rate.denominator
        self.video.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX

    def send(self, frame, index):
        self.rgbx[..., :3] = frame
        self.video.data = self.rgbx
        self.video.timecode = int(index)  # the frame's latent step: receivers can line frames up
        self.ndi.send_send_video_v2(self.sender, self.video)
        self.sent += 1

    def connections(self):
        return self.ndi.send_get_no_connections(self.sender, 0)

    def describe(self):
        return f"NDI '{self.name}': {self.sent} frames, {self.connections()} receiver(s)"

    def close(self):
        if self.sender is not None:
            self.ndi.send_destroy(self.sender)
            self.sender = None


def check_stream_url(url):
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in STREAM_FORMATS:
        raise UserError(f"--stream {url}: give udp://HOST:PORT, srt://HOST:PORT or rtmp://SERVER/APP/KEY")
    return STREAM_FORMATS[scheme]


class StreamOutput:
    """A live network stream: H.264 (ultrafast, zerolatency, an I-frame every second) in MPEG-TS or FLV."""

    def __init__(self, url, fps, width, height):
        import av

        fmt = check_stream_url(url)
        target = url + ("&" if "?" in url else "?") + "pkt_size=1316" if url.startswith("udp://") else url
        try:
            self.container = av.open(target, "w", format=fmt)
        except (OSError, av.error.FFmpegError) as err:
            raise UserError(f"--stream {url}: cannot open it ({first_line(err)})") from None
        self.stream = self.container.add_stream("libx264", rate=frame_rate(fps))
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(max(1, round(fps))),
                               "crf": "20"}
        self.url, self.sent, self._av = url, 0, av
        try:  # open the connection now: a protocol this FFmpeg lacks, or a server that is not there, is said at once
            self.container.start_encoding()
        except (OSError, av.error.FFmpegError) as err:
            self.container = None
            lacking = isinstance(err, av.error.ProtocolNotFoundError)
            raise UserError(f"--stream {url}: " + (f"this PyAV's FFmpeg has no {url.split(':', 1)[0]} protocol; "
                                                   "use udp://, or a PyAV built with it" if lacking else
                                                   f"cannot connect ({first_line(err)})")) from None

    def send(self, frame, index):
        if frame.shape[0] != self.stream.height or frame.shape[1] != self.stream.width:
            frame = np.pad(frame, ((0, self.stream.height - frame.shape[0]), (0, self.stream.width - frame.shape[1]), (0, 0)))
        for packet in self.stream.encode(self._av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self.container.mux(packet)
        self.sent += 1

    def describe(self):
        return f"stream {self.url}: {self.sent} frames"

    def close(self):
        if self.container is not None:
            try:
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
            finally:
                self.container.close()
                self.container = None


class PipeOutput:
    """Raw rgb24 frames, H x W x 3 bytes each, on stdout (`--out -`): e.g.
    dvtex-play fire.onnx --headless --out - | ffmpeg -f rawvideo -pix_fmt rgb24 -s 64x64 -framerate 30 -i - ..."""

    path = "-"

    def __init__(self, fps=None, width=None, height=None, stream=None):
        self.pipe = stream or sys.stdout.buffer
        self.frames = 0

    def send(self, frame, index=None):
        self.pipe.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        self.frames += 1

    write = send  # a writer for offline renders too

    def describe(self):
        return f"stdout: {self.frames} frames"

    def close(self):
        try:
            self.pipe.flush()
        except BrokenPipeError:
            pass


class Outputs:
    """Every output of a show, fed from one thread of their own: `send` only copies the frame into a
    buffer and wakes that thread, so encoders and network sends never delay the clock or the window.
    An output still busy with the previous frame skips this one (counted as `skipped`). A failing
    output is said once, shown, and dropped; the others go on."""

    def __init__(self, outputs, log=print):
        self.items, self.log, self.faults = list(outputs), log, []
        self.skipped = 0
        self._frame, self._index, self._pending = None, None, False
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="dvtex-outputs", daemon=True)
        if self.items:
            self._thread.start()

    def send(self, frame, index):
        if not self.items:
            return
        with self._cond:
            if self._pending:
                self.skipped += 1
                return
            if self._frame is None or self._frame.shape != frame.shape:
                self._frame = np.empty_like(frame)
            np.copyto(self._frame, frame)
            self._index, self._pending = index, True
            self._cond.notify()

    def _run(self):
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing)
                if not self._pending:
                    return
            self._send_all(self._frame, self._index)
            with self._cond:
                self._pending = False
                self._cond.notify_all()

    def _send_all(self, frame, index):
        for out in list(self.items):
            try:
                out.send(frame, index)
            except (OSError, ValueError, RuntimeError) as err:  # a network, a closed pipe: PyAV's and NDI's errors
                self.items.remove(out)
                message = f"{out.describe()} failed ({first_line(err)}); dropped, playing on"
                self.faults.append(message)
                self.log(message)

    def flush(self):
        """Wait until the frame handed over last has gone out."""
        with self._cond:
            self._cond.wait_for(lambda: not self._pending, timeout=10)

    def describe(self):
        skipped = [f"outputs skipped {self.skipped} frame(s) while busy"] if self.skipped else []
        return "\n".join([out.describe() for out in self.items] + skipped + self.faults[-2:])

    def close(self):
        self.flush()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for out in self.items:
            try:
                out.close()
            except (OSError, ValueError, RuntimeError) as err:  # closing one must not keep the others open
                self.log(f"{out.describe()}: closing failed ({first_line(err)})")
        self.items = []
