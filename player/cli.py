"""Play a dvtex texture forever: dvtex-play model.onnx --fps 30

In a window (keys: Space pause, Right step, R reseed, K kick, Up/Down speed, ] [ noise gain,
F fullscreen, S screenshot, V record MP4, H overlay, Q/Esc quit), or without one:
  --out FILE --frames N   render N frames to .mp4 / .gif / a folder of PNGs (- : raw rgb24 on stdout)
  --headless              no window, at exactly --fps: for the outputs below
  --benchmark             decode as fast as possible and print the throughput
Outputs, with or without the window: --ndi NAME, --stream udp://|srt://|rtmp://..., --out - with
--headless, --osc-out HOST:PORT. Control: --osc [HOST:]PORT, --midi [PORT]. Sound can drive it:
--audio [DEVICE] (live input) or --audio-file song.wav (played and followed).
"""

import argparse
import os
import sys
import time

from dvtex.errors import ArgumentParser, cli_entry, count, number, positive
from dvtex.player.modelfile import check_model_path
from dvtex.player.stream import GAIN_RANGE, SPEED_RANGE


DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo", "fire256.onnx")


MAX_SIDE = 16384  # the largest texture OpenGL 3.3 implementations commonly allow


def parse_size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if 0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE:
            return w, h
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT with sides from 1 to {MAX_SIDE}, e.g. 768x768")


def parse_start(text):
    if text == "random":
        return text
    try:
        if int(text) >= 0:
            return int(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r}: give a stored state's index (0, 1, ...) or 'random'") from None


def parse_react(text):
    from dvtex.player.audio_features import Reaction

    try:
        return Reaction.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None


def check_modes(p, args):
    """Options that do not go together, and show options that cannot work, refused before any work."""
    offline = args.out and args.out != "-" or (args.out == "-" and not args.headless)
    live = [name for name, on in (("--osc", args.osc), ("--osc-out", args.osc_out), ("--midi", args.midi is not None),
                                  ("--ndi", args.ndi), ("--stream", args.stream)) if on]
    if args.benchmark and (args.out or args.headless or live or args.audio is not None or args.audio_file):
        p.error("--benchmark measures decoding alone; drop the other modes, outputs and sound")
    if args.headless and args.out and args.out != "-":
        p.error("--headless plays live; --out FILE renders offline (drop one), or stream with --out - or --stream")
    if offline and live:
        p.error(f"--out renders offline, as fast as it can; {live[0]} is for live play (add --headless, or drop --out)")
    if args.audio_file and args.out and args.out.lower().endswith(".webm"):
        p.error("a WebM render carries no sound track here: render with --audio-file to .mp4 or .mkv")
    if offline and args.audio is not None:
        p.error("--out renders offline: use --audio-file, not a live --audio input")
    if args.loop and args.start != 0:
        p.error("--loop draws its own start from the stationary law; drop --start")
    if args.ndi is not None and not args.ndi.strip():
        p.error("--ndi needs a source name, e.g. --ndi dvtex")
    if args.midi_map and args.midi is None:
        p.error("--midi-map goes with --midi")
    for option in ("osc", "osc_out"):
        if getattr(args, option):
            from dvtex.player.osc import parse_endpoint

            parse_endpoint(getattr(args, option), option=f"--{option.replace('_', '-')}")
    if args.stream:
        from dvtex.player.outputs import check_stream_url

        check_stream_url(args.stream)


def explicit_options(parser, argv):
    """The destinations of the options written on the command line (a scene fills only the others)."""
    given = {"models"} if any(not a.startswith("-") and a.lower().endswith(".onnx") for a in argv) else set()
    for token in argv:
        action = parser._option_string_actions.get(token.split("=", 1)[0])  # argparse keeps no public map
        if action is not None:
            given.add(action.dest)
    return given


def parse_args(argv):
    p = ArgumentParser(prog="dvtex-play", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="a .onnx file written by dvtex-export (default: the bundled demo fire); several play in turn")
    p.add_argument("--demo", action="store_true", help="play the demo model that ships with dvtex")
    p.add_argument("--fps", type=number(0.01, 1000), default=30.0, help="frame rate, any rate such as 29.97 (default 30)")
    p.add_argument("--provider", default="auto", choices=["auto", "cuda", "cpu"], help="ONNX Runtime provider (default auto)")
    p.add_argument("--threads", type=count(1, 256), default=2, help="ONNX Runtime CPU threads (default 2)")
    p.add_argument("--cuda-graph", action="store_true", help="replay a captured CUDA graph (CUDA provider)")
    p.add_argument("--seed", type=count(0), default=0, help="noise seed (default 0)")
    p.add_argument("--start", type=parse_start, default=0, help="stored initial state K, or 'random' (default 0)")
    p.add_argument("--speed", type=number(*SPEED_RANGE), default=1.0, help="process steps per frame, 1/64..64 (default 1)")
    p.add_argument("--gain", type=number(*GAIN_RANGE), default=1.0, help="noise gain, 0..3 (default 1: the trained statistics)")
    p.add_argument("--size", type=parse_size, help="window size WxH (default: the frame scaled to about 512)")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--nearest", action="store_true", help="nearest-neighbour scaling (default linear)")
    p.add_argument("--fit", choices=["contain", "cover", "stretch"], default="contain",
                   help="frame in the window: contain letterboxes, cover fills it and crops, stretch fills it (default contain)")
    p.add_argument("--vsync", action="store_true", help="wait for vertical sync (off by default: the clock paces)")
    p.add_argument("--overlay", action="store_true", help="start with the overlay shown (H toggles it)")
    p.add_argument("--frames", type=count(1), help="stop after N frames (with --out: frames to render, default 10 s)")
    p.add_argument("--switch-every", type=positive, metavar="SECONDS", help="several models: the next one every SECONDS")
    p.add_argument("--crossfade", type=number(0, 60), default=0.0, metavar="SECONDS",
                   help="several models: blend into the next over SECONDS (default 0: a cut)")
    p.add_argument("--shuffle", action="store_true", help="several models: play them in a random order (by --seed)")
    p.add_argument("--scene", action="append", metavar="FILE",
                   help="start from a saved scene (JSON/TOML; options given here win); repeat it: /dvtex/scene i recalls the i-th")
    p.add_argument("--loop", type=count(2, 100_000), metavar="N",
                   help="play a perfect loop of N frames (with --out: render one loop that repeats seamlessly)")
    p.add_argument("--out", help="render to FILE.mp4 / FILE.gif / a folder of PNGs, without a window")
    p.add_argument("--headless", action="store_true", help="no window: play at exactly --fps into the outputs")
    p.add_argument("--benchmark", action="store_true", help="no window: decode as fast as possible, print frames/s")
    p.add_argument("--batch", type=count(1, 4096), default=8, help="with --benchmark: states per decode (default 8)")
    p.add_argument("--stats-json", help="write playback statistics to this JSON file at exit")
    p.add_argument("--capture-dir", default=".", help="where S screenshots and V recordings go (default: here)")
    show = p.add_argument_group("show: control and outputs")
    show.add_argument("--osc", metavar="[HOST:]PORT", help="OSC control server (listens on 127.0.0.1 unless HOST)")
    show.add_argument("--osc-out", metavar="HOST:PORT", help="send /dvtex/frame and /dvtex/audio every frame")
    show.add_argument("--midi", nargs="?", const="", metavar="PORT", help="MIDI control: the first input, or one by name")
    show.add_argument("--midi-map", metavar="FILE", help="JSON or TOML mapping of CC numbers to parameters")
    show.add_argument("--list-midi-ports", action="store_true", help="list MIDI inputs and exit")
    show.add_argument("--ndi", metavar="NAME", help="send the frames as an NDI source of this name")
    show.add_argument("--stream", metavar="URL", help="H.264 live stream: udp://HOST:PORT, srt://HOST:PORT, rtmp://...")
    sound = p.add_argument_group("sound")
    sound.add_argument("--audio", nargs="?", const="", metavar="DEVICE",
                       help="react to a live input: the default one, or one by index or name fragment")
    sound.add_argument("--audio-file", metavar="FILE", help="play a sound file and react to it, in sync")
    sound.add_argument("--mute", action="store_true", help="with --audio-file: analyse without playing")
    sound.add_argument("--react", default="gain=1.0,kick=1.0,speed=0.5", type=parse_react,
                       help="route strengths, 0 turns one off (default gain=1.0,kick=1.0,speed=0.5)")
    sound.add_argument("--list-audio-devices", action="store_true", help="list sound devices and exit")
    args = p.parse_args(argv)
    args.scenes = []
    if args.scene:
        from dvtex.player.scene import apply_to_args, load_scene

        args.scenes = [load_scene(path) for path in args.scene]
        apply_to_args(args.scenes[0], args, explicit_options(p, sys.argv[1:] if argv is None else argv))
    if args.demo and args.models:
        p.error("give a model file or --demo, not both")
    args.models = args.models or [DEMO]
    args.model = args.models[0]
    if args.audio is not None and args.audio_file:
        p.error("give --audio or --audio-file, not both")
    check_modes(p, args)
    if args.audio_file and not os.path.isfile(args.audio_file):
        p.error(f"--audio-file {args.audio_file}: no such file")
    if not os.path.isdir(args.capture_dir):
        p.error(f"--capture-dir {args.capture_dir}: no such folder")
    for model in args.models:  # a mistyped path is the first thing to fix, before the display
        check_model_path(model)
    if len(args.models) == 1 and (args.switch_every or args.crossfade or args.shuffle):
        p.error("--switch-every, --crossfade and --shuffle play several models: give more than one")
    if len(args.models) > 1 and (args.loop or args.audio is not None or args.audio_file or args.benchmark):
        p.error("several models play as a playlist, without --loop, sound or --benchmark (give one model for those)")
    return args


@cli_entry("dvtex-play")
def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    if args.list_audio_devices:
        from dvtex.player.audio import list_devices

        print("\n".join(list_devices()) or "no audio devices")
        sys.exit(0)
    if args.list_midi_ports:
        from dvtex.player.midi import input_names

        print("\n".join(input_names()) or "no MIDI inputs")
        sys.exit(0)
    from dvtex.player.modes import play

    sys.exit(play(args, t_start))


if __name__ == "__main__":
    main()
