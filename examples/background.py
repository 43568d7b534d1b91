"""A pyglet app with its own content over a live dvtex background.

    python examples/background.py models/fire64.onnx

The app keeps its own window, frame rate and drawing; dvtex only paints the texture first.
"""

import argparse

import pyglet

from dvtex.player import TextureStream
from dvtex.player.window import TextureBackground


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--frames", type=int, help="quit after this many frames (for tests)")
    args = p.parse_args()

    window = pyglet.window.Window(720, 480, caption="my app, with a dvtex background", resizable=True)
    stream = TextureStream(args.model, seed=1)
    background = TextureBackground(stream, window.width, window.height)
    batch = pyglet.graphics.Batch()
    title = pyglet.text.Label("Now playing", font_size=36, x=40, y=400, batch=batch, weight="bold")
    info = pyglet.text.Label(f"{stream.provider}, {stream.info.width}x{stream.info.height}", font_size=14,
                             x=40, y=360, batch=batch)
    shown = 0

    @window.event
    def on_resize(width, height):
        background.resize(*window.get_framebuffer_size())
        title.y, info.y = height - 80, height - 120  # the app's own layout, kept at the top

    @window.event
    def on_draw():
        window.clear()
        background.draw()  # advances the texture one frame
        batch.draw()  # the app's own content, on top

    def tick(dt):
        nonlocal shown
        shown += 1
        info.text = f"{stream.provider}, {stream.info.width}x{stream.info.height}, frame {shown}"
        if args.frames and shown >= args.frames:
            pyglet.app.exit()

    pyglet.clock.schedule_interval(tick, 1 / 30)
    pyglet.app.run(1 / 30)
    background.delete()
    stream.close()


if __name__ == "__main__":
    main()
