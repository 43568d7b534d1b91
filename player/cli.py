"""Play a dvtex texture forever: dvtex-play model.onnx --fps 30

In a window (keys: Space pause, Right step, R reseed, Up/Down speed, ] [ noise gain,
F fullscreen, S screenshot, V record MP4, H overlay, Q/Esc quit), or without one:
  --out FILE --frames N   render N frames to .mp4 / .gif / a folder of PNGs
  --headless              decode as fast as possible and print the throughput
Sound can drive it: --audio [DEVICE] (live input) or --audio-file song.wav (played and followed).
"""

import argparse
import os
import sys
import time

from dvtex.errors import ArgumentParser, UserError, cli_entry, count, first_line, number, writable_file
from dvtex.player.stream import GAIN_RANGE, SPEED_RANGE


DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo", "fire64.onnx")


def log(message):
    print(f"dvtex-play: {message}", file=sys.stderr)


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


def parse_args(argv):
    p = ArgumentParser(prog="dvtex-play", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", help="a .onnx file written by dvtex-export (default: the bundled demo fire)")
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
    p.add_argument("--vsync", action="store_true", help="wait for vertical sync (off by default: the clock paces)")
    p.add_argument("--overlay", action="store_true", help="start with the overlay shown (H toggles it)")
    p.add_argument("--frames", type=count(1), help="stop after N frames (with --out: frames to render, default 10 s)")
    p.add_argument("--out", help="render to FILE.mp4 / FILE.gif / a folder of PNGs, without a window")
    p.add_argument("--headless", action="store_true", help="no window: measure decode throughput")
    p.add_argument("--batch", type=count(1, 4096), default=8, help="with --headless: states per decode (default 8)")
    p.add_argument("--stats-json", help="write playback statistics to this JSON file at exit")
    p.add_argument("--capture-dir", default=".", help="where S screenshots and V recordings go (default: here)")
    sound = p.add_argument_group("sound")
    sound.add_argument("--audio", nargs="?", const="", metavar="DEVICE",
                       help="react to a live input: the default one, or one by index or name fragment")
    sound.add_argument("--audio-file", metavar="FILE", help="play a sound file and react to it, in sync")
    sound.add_argument("--mute", action="store_true", help="with --audio-file: analyse without playing")
    sound.add_argument("--react", default="gain=1.0,kick=1.0,speed=0.5", type=parse_react,
                       help="route strengths, 0 turns one off (default gain=1.0,kick=1.0,speed=0.5)")
    sound.add_argument("--list-audio-devices", action="store_true", help="list sound devices and exit")
    args = p.parse_args(argv)
    if args.demo and args.model:
        p.error("give a model file or --demo, not both")
    if args.model is None:
        args.model = DEMO
    if args.audio is not None and args.audio_file:
        p.error("give --audio or --audio-file, not both")
    if args.headless and not args.out and (args.audio is not None or args.audio_file):
        p.error("--headless measures decoding alone; drop the audio options or render with --out")
    if args.out and args.audio is not None:
        p.error("--out renders offline: use --audio-file, not a live --audio input")
    if args.audio_file and not os.path.isfile(args.audio_file):
        p.error(f"--audio-file {args.audio_file}: no such file")
    if not os.path.isdir(args.capture_dir):
        p.error(f"--capture-dir {args.capture_dir}: no such folder")
    if os.path.isdir(args.model):
        p.error(f"{args.model} is a folder; name the .onnx file in it")
    return args


def open_window(producer, args, stats):
    import pyglet

    from dvtex.player.window import PlayerWindow  # imports pyglet's GL: only when a window is wanted

    def recorder(path):
        from dvtex.player.render import VideoWriter

        return VideoWriter(path, args.fps, producer.info.width, producer.info.height)

    try:
        return PlayerWindow(producer, args.fps, stats, size=args.size, fullscreen=args.fullscreen,
                            nearest=args.nearest, vsync=args.vsync, overlay=args.overlay, recorder=recorder, log=log,
                            capture_dir=args.capture_dir)
    except (pyglet.window.NoSuchDisplayException, pyglet.window.NoSuchConfigException, pyglet.gl.ContextException) as err:
        raise UserError(f"could not open an OpenGL 3.3 window ({err}); use --out FILE, or xvfb-run with Mesa") from None


def check_display():
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("no display to open a window on; render to a file with --out demo.mp4 --frames 300, "
                        "or run under xvfb-run")


def render_to_file(args, source, audio):
    """--out FILE: N frames (default 10 s) without a window, following --audio-file's sound if given."""
    from dvtex.player.render import open_writer, render

    track = (audio.samples, audio.samplerate) if audio is not None else None
    frames = args.frames or max(1, int(round(10 * args.fps)))
    try:
        writer = open_writer(args.out, args.fps, source.info.width, source.info.height, audio=track)
        rate = render(source, frames, writer, audio)
    except OSError as err:  # a full disk, a folder removed meanwhile: PyAV's and PIL's errors are OSErrors
        raise UserError(f"--out {args.out}: could not write ({first_line(err)})") from None
    print(f"rendered {frames} frames to {args.out} ({rate:.0f} frames/s)")


def measure_throughput(args, source):
    """--headless: decode as fast as possible, --batch states a call."""
    frames = args.frames or 1000
    rate = source.decode_rate(frames)
    print(f"decoded {frames} frames at batch {source.decoder.batch}: {rate:.0f} frames/s "
          f"({1000 / rate:.2f} ms/frame) on {source.provider}")


def play_window(args, source, audio, stats):
    """The window, at exactly --fps until it closes (or --frames ticks)."""
    from dvtex.player.audio import FileAudio
    from dvtex.player.producer import FrameProducer

    producer = FrameProducer(source, stats).start()
    window = open_window(producer, args, stats)
    window.audio = audio
    try:
        if isinstance(audio, FileAudio):
            audio.start()
        window.run(args.frames)
    except KeyboardInterrupt:
        pass
    finally:
        producer.stop()
        window.close()
    summary = stats.summary()
    log(f"{summary['frames']} frames at {args.fps:g} FPS, {summary['dropped']} dropped, "
        f"interval p99 {summary['interval_ms']['p99']:.2f} ms")


def play(args, t_start):
    from dvtex.player.source import FrameSource
    from dvtex.player.stats import PlaybackStats

    if not (args.out or args.headless):
        check_display()  # before loading anything: say it at once
    if args.out:
        from dvtex.player.render import writer_class

        writer_class(args.out)
    if args.stats_json:
        writable_file(args.stats_json, "--stats-json")
    batch = args.batch if args.headless and not args.out else 1
    source = FrameSource.open(args.model, seed=args.seed, provider=args.provider, start=args.start, speed=args.speed,
                              gain=args.gain, threads=args.threads, batch=batch, cuda_graph=args.cuda_graph, log=log)
    audio = None
    try:
        audio = open_audio(args, source)
        stats = PlaybackStats(args.fps, source.provider, t_start)
        info = source.info
        log(f"{os.path.basename(args.model)}: {info.width}x{info.height}, n = {info.n}, decoding with {source.provider}"
            + (f", {audio.describe()}" if audio is not None else ""))
        if args.out:
            render_to_file(args, source, audio)
        elif args.headless:
            measure_throughput(args, source)
        else:
            play_window(args, source, audio, stats)
    finally:
        if audio is not None:
            audio.close()
        source.close()
    if args.stats_json:
        stats.write_json(args.stats_json)
    return 0


def open_audio(args, source):
    """The sound source of --audio / --audio-file, driving `source`; None without one."""
    from dvtex.player.audio import FileAudio, LiveInput

    if args.audio_file:
        audio = FileAudio(args.audio_file, args.fps, play=not (args.mute or args.out))
    elif args.audio is not None:
        audio = LiveInput(args.audio or None, args.fps)
    else:
        return None
    source.react_to(audio, args.react, seed=args.seed, log=log)
    return audio


@cli_entry("dvtex-play")
def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    if args.list_audio_devices:
        from dvtex.player.audio import list_devices

        print("\n".join(list_devices()) or "no audio devices")
        sys.exit(0)
    sys.exit(play(args, t_start))


if __name__ == "__main__":
    main()
