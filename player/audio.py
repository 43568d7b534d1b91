"""Audio that drives a texture: a live input or a file (played while it drives), through sounddevice.

The PortAudio callbacks stay tiny: they note `status`, copy the block into a queue without
blocking, and return; an exception there is counted and reported, never fatal. Blocks last at most
one video frame. `AudioReactor` drains the queue on the producer side, once per frame, updates the
features and sets the latent stream's audio multipliers and innovation burst (dvtex.player.audio_features).
"""

import queue
import threading
import time

import numpy as np

from dvtex.errors import UserError
from dvtex.player.audio_features import AudioFeatures, Reaction


def import_sounddevice():
    try:
        import sounddevice
    except OSError:  # the module is there, the PortAudio library is not
        raise UserError("PortAudio is not installed: apt-get install libportaudio2 (or your system's portaudio)") from None
    except ImportError:
        raise UserError("sounddevice is not installed: pip install 'dvtex[audio]'") from None
    return sounddevice


def list_devices():
    """One line per device: index, name, inputs, outputs."""
    sd = import_sounddevice()
    devices = sd.query_devices()
    return [f"{i}: {d['name']} ({d['max_input_channels']} in, {d['max_output_channels']} out)" for i, d in enumerate(devices)]


def find_input(spec):
    """A device index from None (the default input), an index, or a fragment of a name."""
    sd = import_sounddevice()
    devices = sd.query_devices()
    inputs = [i for i, d in enumerate(devices) if d["max_input_channels"] > 0]
    listing = "; ".join(list_devices()) or "none"
    if not inputs:
        raise UserError(f"no audio input device (devices: {listing}); use --audio-file FILE instead")
    if spec in (None, ""):
        default = sd.default.device[0]
        return default if default is not None and default >= 0 and default in inputs else inputs[0]
    if str(spec).isdigit() and int(spec) in inputs:
        return int(spec)
    matches = [i for i in inputs if str(spec).lower() in devices[i]["name"].lower()]
    if not matches:
        raise UserError(f"--audio {spec}: no such input device (devices: {listing})")
    return matches[0]


def read_audio(path):
    """A sound file -> (mono float32 samples, samplerate), decoded with PyAV."""
    import av

    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise UserError(f"{path} has no audio stream")
            stream = container.streams.audio[0]
            rate = stream.rate or 44100
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = [r.to_ndarray().reshape(-1) for f in container.decode(stream) for r in resampler.resample(f)]
            chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(None)]
    except FileNotFoundError:
        raise UserError(f"no such audio file: {path}") from None
    except av.error.FFmpegError as err:
        raise UserError(f"{path} is not an audio file PyAV can read ({err})") from None
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)).astype(np.float32), int(rate)


class AudioSource:
    """Blocks of mono samples arriving on a queue, with the state a player shows."""

    def __init__(self, samplerate, fps, name):
        self.samplerate, self.name = samplerate, name
        self.block = max(1, int(samplerate // fps))  # at most one video frame of sound
        self.blocks = queue.Queue(maxsize=64)
        self.errors, self.overflows, self.status, self.lost = 0, 0, "", False
        self.stream = None

    def hand_over(self, block):
        """From a callback: copy the block to the queue, never blocking (a full queue drops the oldest)."""
        try:
            self.blocks.put_nowait(block.copy())
        except queue.Full:
            self.overflows += 1
            try:
                self.blocks.get_nowait()
                self.blocks.put_nowait(block.copy())
            except (queue.Empty, queue.Full):
                pass

    def input_callback(self, indata, frames, time_info, status):
        try:
            if status:
                self.status = str(status)
            self.hand_over(indata[:, 0])
        except Exception as err:  # noqa: BLE001 - a callback must not die silently, nor kill the stream
            self.errors += 1
            self.status = f"callback error: {err}"

    def finished(self):
        self.lost = True  # the stream ended without us closing it: the device went away

    def close(self):
        if self.stream is not None:
            self.stream.close(ignore_errors=True)
            self.stream = None

    def describe(self):
        if self.lost:
            return f"audio LOST ({self.name})"
        return f"audio {self.name}" + (f" [{self.status}]" if self.status else "")


class LiveInput(AudioSource):
    """The default input device, or one by index or name fragment."""

    def __init__(self, device, fps):
        sd = import_sounddevice()
        index = find_input(device)
        info = sd.query_devices(index)
        super().__init__(int(info["default_samplerate"]), fps, info["name"])
        try:
            self.stream = sd.InputStream(device=index, channels=1, samplerate=self.samplerate, blocksize=self.block,
                                         dtype="float32", callback=self.input_callback, finished_callback=self.finished)
            self.stream.start()
        except sd.PortAudioError as err:
            raise UserError(f"audio input {info['name']} cannot start ({err}); devices: {'; '.join(list_devices())}") from None


class FileAudio(AudioSource):
    """A sound file that drives the texture from the same samples it plays, in sync.

    With an output device (and not mute) the output callback hands each block it plays to the
    queue; without one, a thread hands blocks over at the file's own pace. Offline renders call
    `block_for_frame(i)`: frame i uses the sound up to time i / fps."""

    def __init__(self, path, fps, play=True):
        self.samples, rate = read_audio(path)
        super().__init__(rate, fps, path)
        self.fps, self.position = fps, 0
        self._stop = threading.Event()
        if play and self._start_output():
            return
        self._thread = threading.Thread(target=self._feed, name="dvtex-audio-file", daemon=True)

    def _start_output(self):
        sd = import_sounddevice()
        try:
            if sd.default.device[1] is None or sd.default.device[1] < 0:
                return False
            self.stream = sd.OutputStream(samplerate=self.samplerate, channels=1, blocksize=self.block, dtype="float32",
                                          callback=self.output_callback, finished_callback=self.finished)
        except sd.PortAudioError:
            return False  # no usable output: analyse without playing
        return True

    def start(self):
        if self.stream is not None:
            self.stream.start()
        else:
            self._thread.start()
        return self

    def next_block(self, count):
        block = self.samples[self.position:self.position + count]
        self.position += count
        if len(block) < count:
            block = np.concatenate([block, np.zeros(count - len(block), np.float32)])
        return block

    def output_callback(self, outdata, frames, time_info, status):
        try:
            if status:
                self.status = str(status)
            block = self.next_block(frames)
            outdata[:, 0] = block
            self.hand_over(block)
        except Exception as err:  # noqa: BLE001
            self.errors += 1
            self.status = f"callback error: {err}"

    def _feed(self):
        t0 = time.perf_counter()
        while not self._stop.is_set():
            self.hand_over(self.next_block(self.block))
            wait = t0 + self.position / self.samplerate - time.perf_counter()
            if wait > 0:
                self._stop.wait(wait)

    def block_for_frame(self, i):
        """The samples between frames i-1 and i (times (i-1)/fps .. i/fps); silence after the end."""
        start = max(round((i - 1) * self.samplerate / self.fps), 0)
        end = round(i * self.samplerate / self.fps)
        block = self.samples[start:end]
        return np.pad(block, (0, max(0, end - start - len(block))))

    def close(self):
        self._stop.set()
        super().close()


class AudioReactor:
    """Once per produced frame: drain the audio, update the features, steer the latent stream."""

    def __init__(self, source, stream, reaction=None, seed=0, log=print):
        self.source, self.stream, self.log = source, stream, log
        self.reaction = reaction or Reaction()
        self.features = AudioFeatures(source.samplerate, source.block)
        self.rng = np.random.default_rng(seed + 1)
        self.burst = np.zeros(stream.info.n)
        self.warned = False
        self.onset_peak = 0.0

    def feed(self, block):
        for start in range(0, max(len(block), 1), self.source.block):
            self.features.update(block[start:start + self.source.block])
            self.onset_peak = max(self.onset_peak, self.features.onset)

    def drain(self):
        while True:
            try:
                self.feed(self.source.blocks.get_nowait())
            except queue.Empty:
                return

    def __call__(self, block=None):
        """The burst for the next frame (or None); `block` feeds offline audio instead of the queue."""
        self.onset_peak = 0.0  # a frame that drains several blocks keeps the strongest onset among them
        if block is None:
            self.drain()
        else:
            self.feed(block)
        if self.source.lost and not self.warned:
            self.warned = True
            self.log(f"{self.source.describe()}: playing on without sound")
        gain, speed, kick = self.reaction.controls(self.features, onset=self.onset_peak)
        self.stream.audio_gain, self.stream.audio_speed = gain, speed
        if kick <= 0:
            return None
        self.rng.standard_normal(out=self.burst)
        self.burst *= kick
        return self.burst
