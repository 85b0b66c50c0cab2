"""The plugin's one error type: printed as one line, never as a traceback."""

from __future__ import annotations

# Exit codes: bad input (no such stack, unsupported request) like argparse's usage errors;
# a request that was made but did not succeed (a failed or timed-out backup) is 1.
USAGE = 2
FAILED = 1


class PluginError(Exception):
    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code
