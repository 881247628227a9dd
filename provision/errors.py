"""The few named errors of the provisioner, and the messages users see.

Messages are constants so tests assert the exact text. Every error carries
an exit code (documented in docs/exit-codes.md) and prints as one line.
"""
from __future__ import annotations

# Exit codes of the `provision` CLI.
EXIT_OK = 0
EXIT_FAILED = 1          # a check or an action failed (the world is not as it should be)
EXIT_USAGE = 2           # bad input: nothing was changed
EXIT_REFUSED = 3         # sign-off refused / a guard refused to act (wrong cluster, lock held)
EXIT_TARGET = 4          # the target is not reachable or not configured

UNKNOWN_ENV = "unknown environment {env!r}: expected one of {known}"
MISSING_SETTING = "live target: missing setting {name} ({how})"
INVALID_IMAGE_TAG = "invalid image tag {tag!r}: expected a full 40-character lowercase hex commit SHA"
SIGNOFF_REFUSED = "sign-off refused: {reason}"


class ProvisionError(Exception):
    """Base: one line of text and an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, evidence: tuple[str, ...] = ()):
        super().__init__(message)
        self.evidence = tuple(evidence)


class BadInput(ProvisionError):
    """The caller asked for something invalid; nothing was changed."""

    exit_code = EXIT_USAGE


class Refused(ProvisionError):
    """A guard refused to act (wrong cluster, lock held, sign-off refused)."""

    exit_code = EXIT_REFUSED


class TargetUnavailable(ProvisionError):
    """The target is not configured or not reachable."""

    exit_code = EXIT_TARGET
