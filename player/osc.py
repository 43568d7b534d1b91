"""OSC control in and feedback out (python-osc over UDP). Listens on 127.0.0.1 unless told otherwise.

    /dvtex/speed f   /dvtex/gain f   /dvtex/pause i   /dvtex/step   /dvtex/reseed [i]   /dvtex/kick [f]
    /dvtex/react/gain f   /dvtex/react/kick f   /dvtex/react/speed f
    /dvtex/model i   /dvtex/next [i]   /dvtex/crossfade f   (a playlist)   /dvtex/scene i   (the i-th --scene)

Each message becomes a call on the one control surface (dvtex.player.control.Controls), applied before
the next frame; values out of range are clamped as the keys clamp them. A packet that does not parse,
an unknown address or arguments of the wrong kind are counted (shown in the overlay) and change nothing.
"""

import socket
import threading

from dvtex.errors import UserError

PREFIX = "/dvtex/"
ADDRESSES = ("speed", "gain", "pause", "step", "reseed", "kick", "react/gain", "react/kick", "react/speed",
             "model", "next", "crossfade", "scene")


def parse_endpoint(text, default_host="127.0.0.1", option="--osc"):
    """'PORT' or 'HOST:PORT' -> (host, port); a bad one is a UserError naming the option."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number < 65536 or (number == 0 and option != "--osc"):
        raise UserError(f"{option} {text}: give PORT or HOST:PORT, with a port from 1 to 65535"
                        + (" (0: any free one)" if option == "--osc" else ""))
    return host or default_host, number


class OscControl:
    """A thread that receives OSC packets and turns them into Controls calls."""

    def __init__(self, controls, host="127.0.0.1", port=9000, scenes=(), models=()):
        from pythonosc import osc_packet

        self._parse, self._parse_error = osc_packet.OscPacket, osc_packet.ParseError
        self.controls, self.scenes, self.models = controls, list(scenes), list(models)
        self.received = self.applied = self.malformed = self.unknown = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError as err:
            self.sock.close()
            raise UserError(f"--osc {host}:{port}: cannot listen there ({err.strerror}); choose another port") from None
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dvtex-osc", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return  # closed
            self.handle_packet(data)

    def handle_packet(self, data):
        """One UDP packet: a message or a bundle of them."""
        self.received += 1
        try:
            messages = [timed.message for timed in self._parse(data).messages]
        except (self._parse_error, ValueError, IndexError, TypeError):
            self.malformed += 1
            return
        for message in messages:
            self.handle(message.address, list(message.params))

    def handle(self, address, args):
        """Apply one message; returns whether it was understood."""
        name = address[len(PREFIX):] if address.startswith(PREFIX) else None
        if name not in ADDRESSES:
            self.unknown += 1
            return False
        try:
            self._call(name, args)
        except (ValueError, TypeError, IndexError, OverflowError):  # wrong kind or number of arguments
            self.malformed += 1
            return False
        self.applied += 1
        return True

    def _call(self, name, args):
        c = self.controls
        if any(isinstance(a, (str, bytes, bool)) or a is None for a in args):
            raise TypeError("arguments must be numbers")
        if name == "speed":
            c.set_speed(args[0])
        elif name == "gain":
            c.set_gain(args[0])
        elif name == "pause":
            c.set_paused(bool(args[0]) if args else not c.paused)
        elif name == "step":
            c.step()
        elif name == "reseed":
            c.reseed(int(args[0]) if args else None)
        elif name == "kick":
            c.kick(args[0] if args else 1.0)
        elif name == "model":
            c.select_model(int(args[0]))
        elif name == "next":
            c.next_model(int(args[0]) if args else 1)
        elif name == "crossfade":
            c.set_crossfade(args[0])
        elif name == "scene":
            from dvtex.player.scene import recall

            recall(self.scenes[int(args[0])], c, self.models)  # IndexError: not one of the --scene files
        else:  # react/ROUTE
            c.set_react(name.split("/", 1)[1], args[0])

    def describe(self):
        return (f"OSC {self.address[0]}:{self.address[1]}: {self.applied} applied, {self.malformed} malformed, "
                f"{self.unknown} unknown")

    def close(self):
        self._stop.set()
        self.sock.close()
        if self._thread.is_alive():
            self._thread.join(timeout=2)


class OscFeedback:
    """Per displayed frame: /dvtex/frame i, and /dvtex/audio envelope onset low mid high when sound drives
    the texture, so lights and other visuals can follow the same analysis."""

    def __init__(self, host, port, reactor=None):
        from pythonosc.udp_client import SimpleUDPClient

        self.client, self.reactor = SimpleUDPClient(host, port), reactor
        self.address = (host, port)
        self.sent = self.failed = 0

    def send(self, frame, index):
        try:
            self.client.send_message(f"{PREFIX}frame", int(index))
            if self.reactor is not None:
                f = self.reactor.features
                self.client.send_message(f"{PREFIX}audio", [float(f.envelope), float(self.reactor.onset_peak),
                                                            *map(float, f.bands)])
            self.sent += 1
        except OSError:
            self.failed += 1  # nobody listening (ICMP unreachable) must not stop the show

    def describe(self):
        return f"OSC out {self.address[0]}:{self.address[1]}: {self.sent} frames" + (
            f", {self.failed} failed" if self.failed else "")

    def close(self):
        pass
