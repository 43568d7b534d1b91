"""Sound -> texture controls, in numpy: features of audio blocks and their bounded routes.

Features, per block of at most one video frame of samples:
  envelope  RMS with a fast attack and a slower release
  onset     spectral flux: how much the magnitude spectrum grew since the last block
  bands     energy below 150 Hz, 150 Hz-2 kHz, above 2 kHz
Each is normalised by a running high percentile of its own recent values (about 10 s), above an
absolute floor, so a quiet microphone and a loud line input both span 0..1 and silence stays 0.

Routes (`Reaction`): envelope -> noise gain g, onset -> a one-frame burst of innovation, low band ->
speed s. In silence every route is idle: g = 1, s = 1, no burst: the process relaxes to its trained
stationary statistics. No allocation per block beyond numpy's FFT.
"""

from dataclasses import dataclass

import numpy as np

BANDS = ((20.0, 150.0), (150.0, 2000.0), (2000.0, 16000.0))
FLOOR = {"envelope": 10 ** (-60 / 20), "onset": 1e-3, "bands": 1e-6}  # below these a signal counts as silence
GAIN_MAX, SPEED_MAX, BURST_SCALE = 2.5, 3.0, 2.0


class RunningLevel:
    """A running 95th percentile over the last `length` values, for level normalisation."""

    def __init__(self, length, floor):
        self.values = np.zeros(length)
        self.count, self.floor = 0, floor

    def normalise(self, value):
        self.values[self.count % len(self.values)] = value
        self.count += 1
        level = np.percentile(self.values[: min(self.count, len(self.values))], 95)
        return float(np.clip(value / max(level, self.floor), 0.0, 1.5)) if value > self.floor else 0.0


class AudioFeatures:
    """Feed blocks of mono float samples; read normalised envelope, onset and band energies."""

    def __init__(self, samplerate, block, history_s=10.0, attack_s=0.01, release_s=0.25):
        self.samplerate, self.block = samplerate, block
        self.window = np.hanning(2 * block)
        self.buffer = np.zeros(2 * block)  # the last two blocks: a 50 % overlapped FFT frame
        freqs = np.fft.rfftfreq(2 * block, 1 / samplerate)
        self.band_masks = [(freqs >= lo) & (freqs < hi) for lo, hi in BANDS]
        self.prev_mag = np.zeros(len(freqs))
        per_block = block / samplerate
        self.attack = 1 - np.exp(-per_block / attack_s)
        self.release = 1 - np.exp(-per_block / release_s)
        blocks = max(8, int(history_s / per_block))
        self.levels = {"envelope": RunningLevel(blocks, FLOOR["envelope"]), "onset": RunningLevel(blocks, FLOOR["onset"])}
        self.band_levels = [RunningLevel(blocks, FLOOR["bands"]) for _ in BANDS]
        self.raw_envelope = 0.0
        self.envelope = self.onset = 0.0
        self.bands = np.zeros(len(BANDS))

    def update(self, samples):
        """One block (at most `block` samples, mono float32 in [-1, 1])."""
        n = min(len(samples), self.block)
        if n == 0:
            return self
        self.buffer[:-n] = self.buffer[n:]
        self.buffer[-n:] = samples[-n:]
        rms = float(np.sqrt(np.mean(np.square(samples[-n:], dtype=np.float64)))) if n else 0.0
        rate = self.attack if rms > self.raw_envelope else self.release
        self.raw_envelope += rate * (rms - self.raw_envelope)
        mag = np.abs(np.fft.rfft(self.buffer * self.window)) / self.block
        flux = float(np.sum(np.maximum(mag - self.prev_mag, 0.0)))
        self.prev_mag = mag
        power = mag**2
        self.envelope = self.levels["envelope"].normalise(self.raw_envelope)
        self.onset = self.levels["onset"].normalise(flux)
        for i, (mask, level) in enumerate(zip(self.band_masks, self.band_levels)):
            self.bands[i] = level.normalise(float(power[mask].sum()))
        return self


@dataclass
class Reaction:
    """How strongly each route acts (0 turns it off): --react gain=1.0,kick=1.0,speed=0.5."""

    gain: float = 1.0
    kick: float = 1.0
    speed: float = 0.5

    @classmethod
    def parse(cls, text):
        values = {}
        for item in filter(None, text.split(",")):
            name, _, number = item.partition("=")
            if name.strip() not in cls.__dataclass_fields__:
                raise ValueError(f"unknown route {name.strip()!r}; routes: gain, kick, speed")
            values[name.strip()] = float(number)
            if not 0 <= values[name.strip()] <= 10:  # nan too
                raise ValueError(f"{name.strip()}: a strength is a number from 0 to 10")
        return cls(**values)

    def controls(self, features, onset=None):
        """(gain multiplier, speed multiplier, kick) for the next frame; all idle in silence.
        `onset` overrides the features' latest onset (the peak over several blocks)."""
        gain = min(1.0 + self.gain * features.envelope, GAIN_MAX)
        speed = min(1.0 + 2.0 * self.speed * features.bands[0], SPEED_MAX)
        kick = BURST_SCALE * self.kick * (features.onset if onset is None else onset)
        return gain, speed, kick
