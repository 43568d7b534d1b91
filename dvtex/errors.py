"""User-facing errors: one line on stderr and exit status 2, never a traceback.

Torch-free, so that every CLI (the player included) reports a user's mistake the same way.
A bug still raises.
"""

import argparse
import functools
import math
import sys


class UserError(Exception):
    """A mistake the user can fix: the message names the problem and the fix."""


def first_line(err, limit=140):
    """An exception's first line, shortened, for a one-line message (its type if it says nothing)."""
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0] + " ..."  # whole words only


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, like every other user error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text}") from None


def positive(text):
    """argparse type for a finite quantity that must be above 0 (nan and inf refused too)."""
    value = _float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def number(low, high):
    """argparse type for a finite number within [low, high]."""

    def parse(text):
        value = _float(text)
        if not low <= value <= high:  # nan fails every comparison
            raise argparse.ArgumentTypeError(f"must be a number from {low:g} to {high:g}, not {text}")
        return value

    parse.__name__ = "number"
    return parse


def count(low, high=None):
    """argparse type for a whole number of at least `low` (and at most `high`)."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text}") from None
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {text}")
        return value

    parse.__name__ = "whole number"
    return parse


def writable_file(path, option):
    """Refuse, before any work, an output file that cannot be written: a folder, a missing or read-only
    folder. Returns the path."""
    import os

    if os.path.isdir(path):
        raise UserError(f"{option} {path} is a folder; name a file in it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"{option} {path}: folder {folder} does not exist; create it or write elsewhere")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UserError(f"{option} {path}: not writable; write elsewhere")
    return path


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
