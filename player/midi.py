"""MIDI control (mido + python-rtmidi): control-change messages mapped to the same parameters as the
keys and OSC, through the same Controls. --midi-map FILE (JSON or TOML) replaces the default mapping:

    {"cc": {"1": "speed", "2": "gain", "3": "react/gain", "4": "react/kick", "5": "react/speed",
            "64": "pause", "65": "step", "66": "reseed"},
     "note": "kick"}

A CC value 0..127 covers the parameter's range (speed on a log scale, 1/8x to 8x); pause, step and
reseed act when the value crosses 64 upwards; a note-on kicks with its velocity.
"""

import contextlib
import json
import math
import os
import sys

from dvtex.errors import UserError

DEFAULT_MAP = {"cc": {"1": "speed", "2": "gain", "3": "react/gain", "4": "react/kick", "5": "react/speed",
                      "64": "pause", "65": "step", "66": "reseed"}, "note": "kick"}
TARGETS = ("speed", "gain", "react/gain", "react/kick", "react/speed", "pause", "step", "reseed", "kick")
RANGES = {"gain": (0.0, 3.0), "react/gain": (0.0, 2.0), "react/kick": (0.0, 2.0), "react/speed": (0.0, 2.0),
          "kick": (0.0, 3.0)}
SPEED_OCTAVES = 3  # CC 0..127 -> speed 2^-3 .. 2^3


def load_map(path):
    """A mapping file (JSON, or TOML by its extension) checked against TARGETS; None -> the default."""
    if path is None:
        return DEFAULT_MAP
    if not os.path.isfile(path):
        raise UserError(f"--midi-map {path}: no such file")
    try:
        if path.lower().endswith(".toml"):
            import tomllib

            with open(path, "rb") as f:
                mapping = tomllib.load(f)
        else:
            with open(path) as f:
                mapping = json.load(f)
    except (ValueError, OSError) as err:
        raise UserError(f"--midi-map {path}: not readable JSON/TOML ({err})") from None
    cc = mapping.get("cc", {}) if isinstance(mapping, dict) else None
    if not isinstance(cc, dict) or mapping.get("note", "kick") not in (None, *TARGETS):
        raise UserError(f'--midi-map {path}: expected {{"cc": {{"NUMBER": TARGET}}, "note": TARGET}}')
    for number, target in cc.items():
        if not str(number).isdigit() or not 0 <= int(number) <= 127 or target not in TARGETS:
            raise UserError(f"--midi-map {path}: cc {number} -> {target!r}: CC numbers 0..127, targets "
                            f"{', '.join(TARGETS)}")
    return {"cc": {str(k): v for k, v in cc.items()}, "note": mapping.get("note", "kick")}


class MidiControl:
    """Turns mido messages into Controls calls (`handle`); `open_port` listens to a real port."""

    def __init__(self, controls, mapping=None):
        self.controls, self.mapping = controls, mapping or DEFAULT_MAP
        self.handled = self.ignored = 0
        self._last = {}  # CC number -> last value, for the switch targets
        self.port = None

    def handle(self, message):
        target, value = None, None
        if message.type == "control_change":
            target, value = self.mapping["cc"].get(str(message.control)), message.value
        elif message.type == "note_on" and message.velocity > 0:
            target, value = self.mapping.get("note"), message.velocity
        if target is None:
            self.ignored += 1
            return False
        self._apply(target, value, getattr(message, "control", None))
        self.handled += 1
        return True

    def _apply(self, target, value, control):
        c, x = self.controls, value / 127.0
        if target in ("pause", "step", "reseed"):
            rising = value >= 64 and self._last.get(control, 0) < 64
            self._last[control] = value
            if rising:
                {"pause": c.toggle_pause, "step": c.step, "reseed": c.reseed}[target]()
        elif target == "speed":
            c.set_speed(2.0 ** (SPEED_OCTAVES * (2 * x - 1)))
        elif target == "gain":
            c.set_gain(RANGES["gain"][1] * x)
        elif target == "kick":
            c.kick(RANGES["kick"][1] * x)
        else:
            c.set_react(target.split("/", 1)[1], RANGES[target][1] * x)

    def open_port(self, name=None):
        """Listen to an input port (the first one, or one whose name contains `name`)."""
        names = input_names()
        matches = [n for n in names if name is None or name.lower() in n.lower()]
        if not matches:
            raise UserError(f"--midi {name or ''}: no such MIDI input; inputs: {'; '.join(names) or 'none'}")
        import mido

        self.port = mido.open_input(matches[0], callback=self.handle)
        return self

    def describe(self):
        name = self.port.name if self.port is not None else "(no port)"
        return f"MIDI {name}: {self.handled} handled, {self.ignored} ignored"

    def close(self):
        if self.port is not None:
            self.port.close()
            self.port = None


def input_names():
    """The MIDI inputs; no MIDI system (no ALSA sequencer, as on servers) is a UserError."""
    try:
        import mido

        mido.set_backend("mido.backends.rtmidi")
        with quiet_c_stderr():  # ALSA's C library prints its own complaint before rtmidi raises
            return mido.get_input_names()
    except ImportError:
        raise UserError('--midi needs mido and python-rtmidi: pip install "dvtex[show]"') from None
    except OSError as err:  # rtmidi's SystemError (an OSError) when there is no ALSA sequencer
        raise UserError(f"no MIDI system on this machine ({str(err).strip() or type(err).__name__}); "
                        "use --osc to control dvtex over the network") from None


@contextlib.contextmanager
def quiet_c_stderr():
    """Silence file descriptor 2 (what C libraries write to) for a moment; Python's sys.stderr too."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def speed_to_cc(speed):
    """The CC value that sets `speed` (for mapping files and tests)."""
    return round(127 * (math.log2(speed) / SPEED_OCTAVES + 1) / 2)
