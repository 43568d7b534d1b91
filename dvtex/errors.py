"""User-facing errors: one line on stderr and exit status 2, never a traceback.

Torch-free, so that every CLI (the player included) reports a user's mistake the same way.
A bug still raises.
"""

import argparse
import functools
import sys


class UserError(Exception):
    """A mistake the user can fix: the message names the problem and the fix."""


def first_line(err, limit=140):
    """An exception's first line, shortened, for a one-line message (its type if it says nothing)."""
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:limit]


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, like every other user error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive(text):
    """argparse type for a quantity that must be above 0 (nan refused too)."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def count(low):
    """argparse type for a whole number of at least `low`."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {text}")
        return value

    parse.__name__ = "whole number"
    return parse


def cli_entry(prog):
    """Decorate a CLI's main(): a UserError becomes `prog: error: ...` and exit status 2."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv)
            except UserError as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                sys.exit(2)

        return run

    return wrap
