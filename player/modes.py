"""dvtex-play's modes: a window, the headless show, an offline render, the decode benchmark; and the
show's wiring around them (the control surface from OSC and MIDI, the outputs, the sound)."""

import os
import sys

from dvtex.errors import UserError, first_line, writable_file


def log(message):
    print(f"dvtex-play: {message}", file=sys.stderr)


def open_window(producer, args, stats):
    import pyglet

    from dvtex.player.scene import save_scene
    from dvtex.player.window import PlayerWindow  # imports pyglet's GL: only when a window is wanted

    def recorder(path):
        from dvtex.player.render import VideoWriter

        return VideoWriter(path, args.fps, producer.info.width, producer.info.height)

    try:
        window = PlayerWindow(producer, args.fps, stats, size=args.size, fullscreen=args.fullscreen,
                              nearest=args.nearest, vsync=args.vsync, overlay=args.overlay, recorder=recorder, log=log,
                              capture_dir=args.capture_dir, fit=args.fit)
        window.scene_saver = lambda folder: save_scene(folder, args, producer.source)
        return window
    except (pyglet.window.NoSuchDisplayException, pyglet.window.NoSuchConfigException, pyglet.gl.ContextException) as err:
        raise UserError(f"could not open an OpenGL 3.3 window ({err}); use --out FILE, or xvfb-run with Mesa") from None


def check_display():
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("no display to open a window on; render to a file with --out demo.mp4 --frames 300, "
                        "or run under xvfb-run")


def render_to_file(args, source, audio):
    """--out FILE: N frames (default 10 s) without a window, following --audio-file's sound if given."""
    from dvtex.player.outputs import PipeOutput
    from dvtex.player.render import open_writer, render

    track = (audio.samples, audio.samplerate) if audio is not None else None
    frames = args.frames or args.loop or max(1, int(round(10 * args.fps)))  # a loop: exactly one
    try:
        writer = PipeOutput() if args.out == "-" else \
            open_writer(args.out, args.fps, source.info.width, source.info.height, audio=track, loop=bool(args.loop))
        announce(args, source, audio)
        rate = render(source, frames, writer, audio)
    except OSError as err:  # a full disk, a folder removed meanwhile: PyAV's and PIL's errors are OSErrors
        raise UserError(f"--out {args.out}: could not write ({first_line(err)})") from None
    print(f"rendered {frames} frames to {args.out} ({rate:.0f} frames/s)", file=sys.stderr if args.out == "-" else sys.stdout)


def measure_throughput(args, source):
    """--benchmark: decode as fast as possible, --batch states a call."""
    announce(args, source, None)
    frames = args.frames or 1000
    rate = source.decode_rate(frames)
    print(f"decoded {frames} frames at batch {source.decoder.batch}: {rate:.0f} frames/s "
          f"({1000 / rate:.2f} ms/frame) on {source.provider}")


def announce(args, source, audio):
    """What plays, once everything that could refuse has been checked."""
    info = source.info
    names = ", ".join(os.path.basename(m) for m in args.models)
    log(f"{names}: {info.width}x{info.height}, decoding with {source.provider}"
        + (f", a perfect loop of {args.loop} frames ({args.loop / args.fps:.2f} s)" if args.loop else "")
        + (f", {audio.describe()}" if audio is not None else ""))


def open_show(args, source, audio):
    """The live extras of a window or a headless show: (outputs, controllers) for the overlay."""
    from dvtex.player.outputs import NDIOutput, Outputs, PipeOutput, StreamOutput

    info, outputs, controllers = source.info, [], []
    try:
        if args.ndi:
            outputs.append(NDIOutput(args.ndi, args.fps, info.width, info.height))
        if args.stream:
            outputs.append(StreamOutput(args.stream, args.fps, info.width, info.height))
        if args.out == "-":
            outputs.append(PipeOutput())
        if args.osc_out:
            from dvtex.player.osc import OscFeedback, parse_endpoint

            outputs.append(OscFeedback(*parse_endpoint(args.osc_out, option="--osc-out"), reactor=source.reactor))
        if args.osc:
            from dvtex.player.osc import OscControl, parse_endpoint

            controllers.append(OscControl(source.controls, *parse_endpoint(args.osc), scenes=args.scenes,
                                          models=args.models).start())
        if args.midi is not None:
            from dvtex.player.midi import MidiControl, load_map

            controllers.append(MidiControl(source.controls, load_map(args.midi_map)).open_port(args.midi or None))
    except BaseException:
        Outputs(outputs, log).close()
        for c in controllers:
            c.close()
        raise
    return Outputs(outputs, log), controllers


def play_live(args, source, audio, stats):
    """The window (or, --headless, none) at exactly --fps until it closes, Ctrl-C, SIGTERM or --frames."""
    import signal

    from dvtex.player.audio import FileAudio
    from dvtex.player.producer import FrameProducer
    from dvtex.player.show import HeadlessShow

    outputs, controllers = open_show(args, source, audio)
    announce(args, source, audio)
    for thing in outputs.items + controllers:
        log(thing.describe())
    producer = FrameProducer(source, stats).start()
    show = HeadlessShow(producer, args.fps, stats, outputs) if args.headless else open_window(producer, args, stats)
    previous = signal.signal(signal.SIGTERM, lambda *_: stop(show))
    try:
        if not args.headless:
            show.audio, show.outputs, show.extras = audio, outputs, [*controllers, outputs]
        if isinstance(audio, FileAudio):
            audio.start()
        show.run(args.frames)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        producer.stop()
        for c in controllers:
            c.close()
        outputs.close()
        if not args.headless:
            show.close()
    summary = stats.summary()
    log(f"{summary['frames']} frames at {args.fps:g} FPS, {summary['dropped']} dropped, "
        f"interval p99 {summary['interval_ms']['p99']:.2f} ms")


def stop(show):
    if hasattr(show, "window"):
        show.window.has_exit = True
    else:
        show.stopped = True


def play(args, t_start):
    from dvtex.player.stats import PlaybackStats

    if not (args.out or args.headless or args.benchmark):
        check_display()  # before loading anything: say it at once
    if args.out and args.out != "-":
        from dvtex.player.render import writer_class

        writer_class(args.out)
    if args.stats_json:
        writable_file(args.stats_json, "--stats-json")
    if args.midi is not None:
        from dvtex.player.midi import input_names, load_map

        load_map(args.midi_map), input_names()  # no MIDI system: say so before loading anything
    batch = args.batch if args.benchmark else 1
    source = open_source(args, batch)
    audio = None
    try:
        audio = open_audio(args, source)
        stats = PlaybackStats(args.fps, source.provider, t_start)
        if args.benchmark:
            measure_throughput(args, source)
        elif args.out and not args.headless:
            render_to_file(args, source, audio)
        else:
            play_live(args, source, audio, stats)
    finally:
        if audio is not None:
            audio.close()
        source.close()
    if args.stats_json:
        stats.write_json(args.stats_json)
    return 0


def open_source(args, batch=1):
    """One model's FrameSource, or a Playlist of several."""
    from dvtex.player.playlist import Playlist
    from dvtex.player.source import FrameSource

    sources = []
    try:
        for model in args.models:
            sources.append(FrameSource.open(model, seed=args.seed, provider=args.provider, start=args.start,
                                            speed=args.speed, gain=args.gain, threads=args.threads, batch=batch,
                                            cuda_graph=args.cuda_graph, log=log, loop=args.loop))
    except BaseException:
        for s in sources:
            s.close()
        raise
    if len(sources) == 1:
        return sources[0]
    return Playlist(sources, args.fps, switch_every=args.switch_every, crossfade=args.crossfade, shuffle=args.shuffle,
                    seed=args.seed, log=log)


def open_audio(args, source):
    """The sound source of --audio / --audio-file, driving `source`; None without one."""
    from dvtex.player.audio import FileAudio, LiveInput

    if args.audio_file:
        audio = FileAudio(args.audio_file, args.fps, play=not (args.mute or (args.out and not args.headless)))
    elif args.audio is not None:
        audio = LiveInput(args.audio or None, args.fps)
    else:
        return None
    source.react_to(audio, args.react, seed=args.seed, log=log)
    return audio
