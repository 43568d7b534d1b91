"""FrameProducer: a thread that keeps one decoded frame ready, in a ring of 3 preallocated buffers.

Slots: one on screen, one ready, one being written. The producer makes frame k+1 while frame k is
shown and then waits until the display takes it (and, when a window holds it over its flip,
until it releases it), so the latent advances exactly one step per displayed frame and latency
never queues up. A display tick that finds nothing ready shows the previous frame again and
counts a drop. No GL here; no allocation per frame.
"""

import threading
import time

import numpy as np

SLOTS = 3


class FrameProducer:
    """Makes a FrameSource's frames on its own thread. The display side uses only `take()`, `current()`,
    `info` and `controls` (the source's control surface: pause and step act here)."""

    def __init__(self, source, stats=None):
        self.source, self.stats = source, stats
        self.controls = source.controls
        self.controls.producer = self  # pause and step act on this thread
        self.buffers = [np.zeros(source.frame_shape, np.uint8) for _ in range(SLOTS)]
        self.shown, self.ready = 0, None
        self.ready_index = -1  # latent step of the ready frame
        self.ready_at = 0.0  # perf_counter() when the last frame was ready
        self.shown_index = -1  # latent step of the frame on screen
        self.paused = False
        self._first = False  # start()'s frame: on screen before the clock, not yet taken by a tick
        self._held = False  # taken with release=False: the next frame waits for release()
        self._step_once = False
        self._cond = threading.Condition()
        self._stop = False
        self.error = None
        self._thread = threading.Thread(target=self._run, name="dvtex-producer", daemon=True)

    def start(self):
        self._produce(self._free_slot())  # the first frame, made before the clock starts
        self.take()
        self._first = True
        self._thread.start()
        return self

    def _free_slot(self):
        return next(i for i in range(SLOTS) if i != self.shown and i != self.ready)

    def _produce(self, slot):
        t0 = time.perf_counter()
        self.source.produce(self.buffers[slot])
        if self.stats is not None:
            self.stats.decoded((time.perf_counter() - t0) * 1000)
        with self._cond:
            self.ready, self.ready_index = slot, self.source.steps
            self.ready_at = time.perf_counter()
            self._cond.notify_all()  # wake a consumer blocked in wait_ready()

    def _run(self):
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stop or (self.ready is None and not self._held
                                                               and (not self.paused or self._step_once)))
                    if self._stop:
                        return
                    self._step_once = False
                    slot = self._free_slot()
                self._produce(slot)
        except BaseException as err:  # surfaced by take(): a dead producer must not freeze the picture silently
            self.error = err

    def take(self, release=True):
        """The frame to show now: (buffer, is_new). Never blocks. With release=False the next frame is
        not started until release(): a window that draws a frame ahead of its flip can start the
        next decode after the flip, so that decoding does not share the cores with the flip."""
        if self.error is not None:
            raise RuntimeError("the frame producer failed") from self.error
        with self._cond:
            if self._first:  # the first tick shows the first frame, even when the second is already ready
                self._first = False
                return self.buffers[self.shown], True
            if self.ready is None:
                return self.buffers[self.shown], False
            self.shown, self.ready = self.ready, None
            self.shown_index = self.ready_index
            self._held = not release
            self._cond.notify_all()
            return self.buffers[self.shown], True

    def release(self):
        """Start the next frame after take(release=False)."""
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def current(self):
        """The frame on screen now (the buffer take() last returned)."""
        return self.buffers[self.shown]

    @property
    def info(self):
        return self.source.info

    def step(self):
        """While paused: make exactly one more frame."""
        with self._cond:
            self._step_once = True
            self._cond.notify_all()

    def set_paused(self, paused):
        with self._cond:
            self.paused = paused
            self._cond.notify_all()

    def reseed(self, seed=None):
        """Restart the latent process with new noise (applied to the next frame produced)."""
        self.source.controls.reseed(seed)

    def wait_ready(self, timeout=5.0):
        with self._cond:
            return self._cond.wait_for(lambda: self.ready is not None or self.error is not None, timeout)

    def stop(self):
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
