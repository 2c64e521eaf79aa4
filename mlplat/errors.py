"""The one error type the CLI catches. Every expected failure is an MlplatError with an exit code and a fix."""

from __future__ import annotations

# Exit codes: 1 = an operation failed (terraform, AWS, the emulator, a check); 2 = bad input (blueprint, arguments,
# a missing confirmation); 3 = changes present (`plan --detailed-exitcode`); 130 = interrupted (SIGINT, SIGTERM).
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CHANGES = 3
EXIT_INTERRUPTED = 130


class MlplatError(Exception):
    exit_code = EXIT_FAILED
    details: dict = {}  # extra fields of the --json error document

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class BlueprintError(MlplatError):
    """One or more problems in a blueprint file; each problem is one line `file:line: key: message`."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
