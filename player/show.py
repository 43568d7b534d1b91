"""The show's clock: frames taken from the producer at exactly --fps and handed to the window and to
every output. `paced` is the one pacing loop (the window's and the headless show's); `HeadlessShow`
runs outputs (NDI, stream, stdout, OSC feedback) with no window."""

import time


def paced(fps, tick, idle=None, done=None, max_frames=None, prepare=None):
    """Call tick(now) every 1/fps seconds until done() or max_frames ticks: sleep, then spin the last
    1.5 ms so each tick lands on the clock; after a stall the clock restarts instead of bursting.
    `idle()` runs while waiting (a window's events). `prepare(timeout)`, when given, is called while
    waiting for each tick instead of sleeping: it waits at most `timeout` seconds for what the tick
    needs and readies it, returning True once it has (a window: its next frame is decoded and drawn
    into the back buffer, so the tick only flips). Returns the number of ticks."""
    period = 1.0 / fps
    next_t = time.perf_counter()
    prepared = prepare is None
    ticks = 0
    while not (done is not None and done()) and (max_frames is None or ticks < max_frames):
        if idle is not None:
            idle()
        wait = next_t - time.perf_counter()
        if wait > 0.002:
            if prepared:
                time.sleep(min(wait - 0.0015, 0.01))
            else:
                prepared = prepare(min(wait - 0.0015, 0.01))
            continue
        while time.perf_counter() < next_t:
            pass
        tick(time.perf_counter())
        ticks += 1
        prepared = prepare is None
        next_t += period
        if time.perf_counter() - next_t > period:
            next_t = time.perf_counter() + period
    return ticks


class HeadlessShow:
    """No window: each tick takes the producer's frame (or repeats the last one) and sends it to every
    output, at exactly --fps, until stopped (Ctrl-C, SIGTERM) or --frames."""

    def __init__(self, producer, fps, stats, outputs):
        self.producer, self.fps, self.stats, self.outputs = producer, fps, stats, outputs
        self.stopped = False

    def tick(self, now):
        frame, new = self.producer.take()
        if self.producer.paused and not new:
            new = True  # a paused picture is not a dropped frame
        self.outputs.send(frame, self.producer.shown_index)
        self.stats.shown(now, new)

    def run(self, max_frames=None):
        return paced(self.fps, self.tick, done=lambda: self.stopped, max_frames=max_frames)
