"""Exceptions with messages fit for a user: what failed, on which value, what to do next."""


class WorkbenchError(Exception):
    """An expected failure reported to the user as one line (``error: ...`` on the CLI)."""


class InvalidInputError(WorkbenchError):
    """Input data (a file, a JSON document, a parameter value) is invalid or unreadable."""


class NotFoundError(WorkbenchError):
    """A named dataset, benchmark, model, run or job does not exist."""


class Cancelled(WorkbenchError):
    """The user cancelled the work; partial work already committed stays."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)
