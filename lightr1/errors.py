"""Errors that end a command with one clear line instead of a stack trace."""

import contextlib
from collections.abc import Iterator


class Lightr1Error(Exception):
    """A failure the user can act on: bad input, bad config, an empty filter."""


class InputFileError(Lightr1Error):
    """A whole input file is missing or unreadable: the message names the file."""


def one_line(err: BaseException) -> str:
    """An exception's message on one line (libraries' messages often carry hints and context)."""
    return " ".join(str(err).split()) or type(err).__name__


@contextlib.contextmanager
def loading_model(path: object) -> Iterator[None]:
    """Errors loading a model folder (or its tokenizer or config) as one InputFileError naming
    it. transformers and safetensors raise many types for an empty folder, a file, a junk
    config or a cut-off weights file (OSError, ValueError, KeyError, SafetensorError, ...),
    so every one is caught here, where the only thing happening is the load."""
    try:
        yield
    except Lightr1Error:
        raise
    except Exception as err:
        raise InputFileError(f"{path}: cannot load the model folder: {type(err).__name__}: {one_line(err)}") from err
