"""Errors that end a command with one clear line instead of a stack trace."""


class Lightr1Error(Exception):
    """A failure the user can act on: bad input, bad config, an empty filter."""


class InputFileError(Lightr1Error):
    """A whole input file is missing or unreadable: the message names the file."""


def one_line(err: BaseException) -> str:
    """An exception's message on one line (libraries' messages often carry hints and context)."""
    return " ".join(str(err).split()) or type(err).__name__
