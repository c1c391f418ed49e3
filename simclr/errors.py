"""User mistakes as one-line errors: `UserError` and how `simclr` turns an exception into its message.

A user mistake (a bad config value, missing data, an unusable checkpoint) raises `UserError` (or, for a
missing file, `FileNotFoundError`) with one line that names the bad value and the fix. The `simclr`
command prints that line as `simclr: error: ...` and exits with status 1; any other exception is a bug
and keeps its traceback. `SIMCLR_DEBUG=1` shows the traceback of user mistakes too.
"""

from __future__ import annotations

import argparse
import re

from lightning.fabric.utilities.exceptions import MisconfigurationException

from augmentations.errors import ConfigError

DEBUG_ENV = "SIMCLR_DEBUG"  # set to 1 to get the full traceback of a user mistake
_WORKER_PREFIX = "Original Traceback"  # torch re-raises a DataLoader worker's exception with its traceback text
_JSONARGPARSE_NOISE = (
    "Does not validate against any of the",
    "Subtypes:",
    "Errors:",
    "Given value type:",
    "- Expected a <class 'NoneType'>",
    "Problem with given class_path",
)


class UserError(ValueError):
    """A mistake in the user's input (config, data, checkpoint); the message is one line: what was wrong; the fix.

    A ValueError subclass, so code that catches ValueError for bad arguments keeps working.
    """


class TrainingDiverged(UserError):
    """The training loss became non-finite (see `simclr.safety.loss_guard.NonFiniteLossGuard`)."""


def short_reason(error: BaseException, limit: int = 100) -> str:
    """The first sentence of an exception's message, without C++ source locations, for a one-line error."""
    text = re.sub(r"^.*\.(cpp|h):\d+,? ", "", " ".join(str(error).split())) or type(error).__name__
    return re.split(r"(?<=[a-z])\. ", text)[0][:limit].rstrip(".")


def _last_line_of_worker_error(message: str) -> str:
    """`Caught X in DataLoader worker process 0. Original Traceback ... pkg.X: msg` -> `msg`."""
    last = [line for line in message.splitlines() if line.strip()][-1]
    return re.sub(r"^[\w.]+: ", "", last.strip())


def condense_parser_error(message: str) -> str:
    """One line from a jsonargparse error: the config key path and the reason, without the type-union noise.

    `Parser key "data": ... Parser key "batch_size": Expected a <class 'int'>. Got value: abc`
    -> `data.batch_size: Expected a <class 'int'>. Got value: abc`.
    """
    keys = re.findall(r'Parser key "([^"]+)"', message)
    given = re.search(r"^\s*Given value: (.*)$", message, flags=re.MULTILINE)
    reasons = []
    for line in message.splitlines():
        text = re.sub(r'Parser key "[^"]+":?', "", line).strip().lstrip("- ").strip()
        if (
            text
            and not any(text.startswith(n.lstrip("- ")) for n in _JSONARGPARSE_NOISE)
            and not line.strip().startswith("Given value")
        ):
            reasons.append(text)
    reason = "; ".join(dict.fromkeys(reasons)) or message.strip().replace("\n", " ")
    if given and "Got value" not in reason and "NestedArg" not in given.group(1) and "Namespace" not in given.group(1):
        reason += f" (got {given.group(1).strip()})"
    return f"{'.'.join(keys)}: {reason}" if keys else reason


def user_message(error: BaseException, command: str = "<command>") -> str | None:
    """The one-line message for a user mistake anywhere in `error`'s cause chain, or None for a bug.

    Config errors reach us wrapped (jsonargparse re-raises a constructor's UserError as its own ValueError
    `from` it), so the whole `__cause__` / `__context__` chain is searched.
    """
    seen: set[int] = set()
    chain: list[BaseException] = []
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
    for e in chain:
        # ConfigError: a bad augmentation option; MisconfigurationException: Lightning's own (trainer options)
        if isinstance(e, (UserError, ConfigError, MisconfigurationException, FileNotFoundError, PermissionError)):
            text = str(e)
            return _last_line_of_worker_error(text) if _WORKER_PREFIX in text else " ".join(text.split())
    for e in chain:
        if isinstance(e, argparse.ArgumentError):
            return condense_parser_error(str(e)) + f"; run `simclr {command} --help` for the accepted options"
    return None
