"""The pyglet side: a texture made once and updated in place, the player window, and the drawable
that apps embed as a live background.

`FrameTexture` owns a GL texture of the frame size (glTexSubImage2D each frame, no reallocation)
and a sprite that draws it scaled to a rectangle. `PlayerWindow` takes frames from a
FrameProducer on a clock paced at exactly --fps. It draws each frame as soon as it is decoded
(take, upload, draw, glFinish, so that a software rasteriser does its work then and not in the
flip), and on the clock it only flips. The next decode starts after the flip, so decoding and
drawing never share the cores when the frame goes on screen, as long as a decode and a draw fit
in one period together (all but the two slowest of the last CHAINS frames); when they do not (a
large model at a high frame rate), the decode starts as the frame is taken and overlaps the
drawing and the flip.
"""

import collections
import ctypes
import datetime
import os
import time

import numpy as np
import pyglet

from dvtex.errors import first_line
from dvtex.player.show import paced

pyglet.options["shadow_window"] = False  # one context, made with our window
from pyglet import gl  # noqa: E402
from pyglet.window import key  # noqa: E402

SPEED_STEP, GAIN_STEP = 1.25, 0.1
CHAINS = 30  # frames the choice between holding the decode over the flip and overlapping it looks back on
CHAIN_RANK = 3  # the third slowest of them decides: a lone stall does not switch
HOLD_MARGIN = 0.0015  # s of a period kept free of decoding and drawing: the clock's spin
FITS = ("contain", "cover", "stretch")


class FrameTexture:
    """An RGB uint8 (H, W, 3) frame as a texture, drawn scaled into (x, y, width, height)."""

    def __init__(self, frame_height, frame_width, nearest=False, batch=None, group=None):
        filt = gl.GL_NEAREST if nearest else gl.GL_LINEAR
        self.size = (frame_width, frame_height)
        self.texture = pyglet.image.Texture.create(frame_width, frame_height, internalformat=gl.GL_RGB8,
                                                   min_filter=filt, mag_filter=filt)
        region = self.texture.get_transform(flip_y=True)  # frames are stored top row first
        region.anchor_x = region.anchor_y = 0
        self.sprite = pyglet.sprite.Sprite(region, batch=batch, group=group)

    def upload(self, frame):
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture.id)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, self.size[0], self.size[1], gl.GL_RGB, gl.GL_UNSIGNED_BYTE,
                           ctypes.c_void_p(frame.ctypes.data))

    def place(self, x, y, width, height):
        self.sprite.update(x=x, y=y, scale_x=width / self.size[0], scale_y=height / self.size[1])

    def fit(self, width, height, mode="contain", x=0, y=0):
        """The frame in the rectangle (x, y, width, height): contain letterboxes (the largest rectangle of the
        frame's aspect inside it), cover fills it (the smallest that covers it, the overflow centred
        outside), stretch fills it at any aspect."""
        if mode == "stretch":
            return self.place(x, y, width, height)
        pick = max if mode == "cover" else min
        scale = pick(width / self.size[0], height / self.size[1])
        w, h = self.size[0] * scale, self.size[1] * scale
        self.place(x + (width - w) / 2, y + (height - h) / 2, w, h)

    def draw(self):
        self.sprite.draw()

    def delete(self):
        self.sprite.delete()
        self.texture.delete()


class TextureBackground:
    """A live dvtex texture behind an app's own content: call draw() first in its on_draw.

        stream = TextureStream("fire.onnx")
        background = TextureBackground(stream, window.width, window.height)
        @window.event
        def on_draw():
            window.clear(); background.draw(); label.draw()

    Each draw() advances the texture one frame, at the app's own frame rate; resize() follows
    the window. `fit` is stretch (the default: the rectangle at any aspect), contain (letterboxed) or
    cover (filled at the frame's aspect, the overflow cut off at the rectangle's edges).
    """

    def __init__(self, stream, width, height, x=0, y=0, nearest=False, fit="stretch"):
        if fit not in FITS:
            raise ValueError(f"fit {fit!r} is not one of {', '.join(FITS)}")
        self.stream, self.fit = stream, fit
        h, w, _ = stream.frame_shape
        self.frame = np.zeros(stream.frame_shape, np.uint8)
        self.texture = FrameTexture(h, w, nearest)
        self.resize(width, height, x, y)

    def resize(self, width, height, x=0, y=0):
        self.rect = (int(x), int(y), int(width), int(height))
        self.texture.fit(width, height, self.fit, x, y)

    def draw(self):
        self.stream.next_frame(out=self.frame)
        self.texture.upload(self.frame)
        if self.fit == "cover":  # the overflow stays outside the rectangle
            gl.glEnable(gl.GL_SCISSOR_TEST)
            gl.glScissor(*self.rect)
        self.texture.draw()
        if self.fit == "cover":
            gl.glDisable(gl.GL_SCISSOR_TEST)

    def delete(self):
        self.texture.delete()


def read_framebuffer(window):
    """The window's back buffer as uint8 (H, W, 3), top row first (for tests and screenshots)."""
    w, h = window.get_framebuffer_size()
    buf = (gl.GLubyte * (w * h * 4))()
    gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
    gl.glReadPixels(0, 0, w, h, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, buf)
    return np.frombuffer(buf, np.uint8).reshape(h, w, 4)[::-1, :, :3].copy()


class PlayerWindow:
    """A window that shows a FrameProducer's frames at exactly `fps`, with keyboard controls."""

    def __init__(self, producer, fps, stats, size=None, fullscreen=False, nearest=False, vsync=False,
                 overlay=False, recorder=None, log=print, capture_dir=".", fit="contain"):
        self.producer, self.fps, self.stats, self.log, self.fit = producer, fps, stats, log, fit
        self.capture_dir = capture_dir
        self.faults, self._said = [], set()  # what failed while playing (a capture that could not be written)
        info = producer.info
        width, height = size or _default_size(info.width, info.height)
        self.window = pyglet.window.Window(width, height, caption=f"dvtex - {info.path}", resizable=True,
                                           vsync=vsync, fullscreen=fullscreen)
        self.texture = FrameTexture(info.height, info.width, nearest)
        self.overlay_batch = pyglet.graphics.Batch()
        self.label = pyglet.text.Label("", x=8, y=8, width=420, multiline=True, font_size=11, anchor_y="bottom",
                                       color=(255, 255, 255, 255), batch=self.overlay_batch)
        self.show_overlay = overlay
        self.recorder_factory, self.recording = recorder, None
        self.frame = producer.current().copy()  # the frame on screen (the producer reuses its buffers)
        self.frame_index = producer.shown_index
        self.window.push_handlers(on_key_press=self.on_key_press, on_draw=self.on_draw, on_resize=self.on_resize)
        self.texture.upload(self.frame)
        self._drawn = None  # the frame drawn for the next flip: (is_new, is_changed), or None
        self.hold_decode = True  # the next decode waits for the flip (False: it overlaps drawing and the flip)
        self._released_at = time.perf_counter()  # when the producer last began a frame
        self._chains = collections.deque(maxlen=CHAINS)  # s from a decode's start to its frame drawn
        self._stale = False  # resized since it was drawn
        self._overlay_due = 0.0
        self.audio = None  # an AudioSource, shown in the overlay
        self.extras = []  # other things with a describe() for the overlay: the OSC server, outputs
        self.outputs = None  # dvtex.player.outputs.Outputs: NDI, streams, OSC feedback
        self.scene_saver = None  # folder -> path of the scene file written (W)

    def on_resize(self, width, height):
        self.texture.fit(*self.window.get_framebuffer_size(), self.fit)
        self._stale = True

    def on_draw(self):
        self.window.clear()
        self.texture.draw()
        if self.show_overlay:
            self.overlay_batch.draw()

    def on_key_press(self, symbol, modifiers):
        c = self.producer.controls  # the same surface OSC and MIDI use
        if symbol in (key.Q, key.ESCAPE):
            self.window.has_exit = True
        elif symbol == key.SPACE:
            c.toggle_pause()
        elif symbol == key.RIGHT and c.paused:
            c.step()
        elif symbol == key.R:
            c.reseed()
        elif symbol == key.K:
            c.kick()
        elif symbol == key.N:
            c.next_model(1)
        elif symbol == key.P:
            c.next_model(-1)
        elif key._1 <= symbol <= key._9:
            c.select_model(symbol - key._1)
        elif symbol == key.UP:
            c.scale_speed(SPEED_STEP)
        elif symbol == key.DOWN:
            c.scale_speed(1 / SPEED_STEP)
        elif symbol == key.BRACKETRIGHT:
            c.add_gain(GAIN_STEP)
        elif symbol == key.BRACKETLEFT:
            c.add_gain(-GAIN_STEP)
        elif symbol == key.F:
            self.window.set_fullscreen(not self.window.fullscreen)
        elif symbol == key.H:
            self.show_overlay = not self.show_overlay
        elif symbol == key.S:
            self.screenshot()
        elif symbol == key.V:
            self.toggle_recording()
        elif symbol == key.W and self.scene_saver is not None:
            self.save_scene()
        return pyglet.event.EVENT_HANDLED

    def fault(self, what, path, err):
        """Something that failed while playing (`what`: screenshot, recording): said on stderr once per
        kind of failure, shown in the overlay (the last three); play goes on."""
        reason = getattr(err, "strerror", None) or first_line(err)
        kind = (what, type(err).__name__, reason)
        if kind not in self._said:
            self._said.add(kind)
            self.log(f"{what} {path} failed ({reason}); playing on")
        self.faults = self.faults[-2:] + [f"{what} failed: {reason}"]

    def capture_path(self, ext):
        name = datetime.datetime.now().strftime(f"dvtex-%Y%m%d-%H%M%S-%f.{ext}")
        return os.path.join(self.capture_dir, name)

    def screenshot(self):
        from PIL import Image

        path = self.capture_path("png")
        try:
            Image.fromarray(self.frame).save(path)
        except (OSError, ValueError) as err:
            self.fault("screenshot", path, err)
            return None
        self.log(f"screenshot {path}")
        return path

    def save_scene(self):
        try:
            path = self.scene_saver(self.capture_dir)
        except (OSError, ValueError) as err:
            self.fault("scene", self.capture_dir, err)
            return None
        self.log(f"scene {path}")
        return path

    def toggle_recording(self):
        if self.recording is not None:
            recording, self.recording = self.recording, None
            try:
                recording.close()
                self.log(f"recorded {recording.frames} frames to {recording.path}")
            except (OSError, ValueError) as err:
                self.fault("recording", recording.path, err)
        elif self.recorder_factory is not None:
            path = self.capture_path("mp4")
            try:
                self.recording = self.recorder_factory(path)
            except (OSError, ValueError) as err:
                self.fault("recording", path, err)
                return
            self.log(f"recording to {self.recording.path} (V stops)")

    def record(self, frame):
        try:
            self.recording.write(frame)
        except (OSError, ValueError) as err:
            recording, self.recording = self.recording, None
            self.fault("recording", recording.path, err)
            try:
                recording.close()
            except (OSError, ValueError):
                pass

    def tick(self, now):
        """One display tick: flip the frame drawn ahead of it (drawn now if it was not, or if the
        window was resized since), then hand it to the recording and the outputs."""
        if self._drawn is None or self._stale:
            self.draw_next()
        (new, changed), self._drawn = self._drawn, None
        self.window.flip()
        self.stats.shown(time.perf_counter(), new)
        if self.hold_decode:
            self.producer.release()
            self._released_at = time.perf_counter()
        self.hold_decode = not self._chains or sorted(self._chains)[-CHAIN_RANK:][0] < 1 / self.fps - HOLD_MARGIN
        if changed:
            np.copyto(self.frame, self.producer.current())  # before take() hands its buffer back
            self.frame_index = self.producer.shown_index
        if self.recording is not None:
            self.record(self.frame)
        if self.outputs is not None:  # after the flip: the window's frame is never late for them
            self.outputs.send(self.frame, self.frame_index)

    def prepare(self, timeout):
        """`paced`'s prepare: wait up to `timeout` s for the next frame; once it is there, draw it."""
        if not self.producer.wait_ready(timeout):
            return False
        self.draw_next()
        return True

    def draw_next(self):
        """Take the ready frame (or keep the last one: a drop, unless paused), upload it and draw it
        into the back buffer for the next flip; after a resize, draw the frame already taken again."""
        decoded = None
        if self._drawn is None:
            frame, changed = self.producer.take(release=not self.hold_decode)
            if changed:
                decoded = max(0.0, self.producer.ready_at - self._released_at)
                if not self.hold_decode:  # the next decode has begun (not after a drop: it began before)
                    self._released_at = time.perf_counter()
                self.texture.upload(frame)
            self._drawn = (changed or self.producer.paused, changed)  # a paused picture is not a dropped frame
        self._stale = False
        now = time.perf_counter()
        if self.show_overlay and now >= self._overlay_due:
            self._overlay_due = now + 0.25  # text layout is costly: four times a second is enough
            self.label.text = self.overlay_text()
        self.on_draw()
        gl.glFinish()
        if decoded is not None:
            self._chains.append(decoded + time.perf_counter() - now)

    def overlay_text(self):
        st, s = self.stats, self.producer.controls
        d50, d99 = st.decodes.percentiles(50, 99)
        return (f"{st.fps_now():5.1f} FPS (target {self.fps:g})   drops {st.dropped}\n"
                f"decode {d50:.1f} ms (p99 {d99:.1f})   {st.provider}\n"
                f"speed {s.speed:.2f}   gain {s.gain:.2f}   seed {s.seed}"
                + ("   PAUSED" if self.producer.paused else "") + ("   REC" if self.recording else "")
                + (f"\n{self.audio.describe()}" if self.audio is not None else "")
                + "".join(f"\n{extra.describe()}" for extra in self.extras)
                + "".join(f"\n{fault}" for fault in self.faults))

    def run(self, max_frames=None):
        """Show frames until the window closes (or max_frames ticks), on the show's clock."""
        self.on_resize(*self.window.get_size())
        return paced(self.fps, self.tick, idle=self.window.dispatch_events, done=lambda: self.window.has_exit,
                     max_frames=max_frames, prepare=self.prepare)

    def close(self):
        if self.recording is not None:
            self.toggle_recording()
        self.texture.delete()
        self.window.close()


def _default_size(width, height):
    scale = max(1, round(512 / max(width, height)))
    return width * scale, height * scale
