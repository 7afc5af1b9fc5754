"""The worker's one error class. Each error carries the protocol error code, the spec field it is
about (when there is one) and the exit code the process ends with."""

from __future__ import annotations

from .events import ExitCode


class WorkerError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None, exit_code: int = ExitCode.FAILED):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.exit_code = exit_code


class BadConfig(WorkerError):
    """The job spec cannot run as written; retrying will not help (exit 2)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__("bad_config", message, field, ExitCode.BAD_CONFIG)


class Diverged(WorkerError):
    """The loss (or gradient norm) became NaN or infinite (exit 4)."""

    def __init__(self, message: str, step: int):
        super().__init__("nan_loss", message, None, ExitCode.DIVERGED)
        self.step = step
