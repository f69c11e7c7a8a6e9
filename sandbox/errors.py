"""Errors raised by the Sandbox API. A program's own failure is never raised: it is an ExecResult."""


class SandboxError(RuntimeError):
    """The sandbox itself could not do its job."""


class SandboxClosed(SandboxError):
    """run() was called on a Sandbox after close()."""


class SandboxStartError(SandboxError):
    """The warm pool process could not be started or keeps dying at start."""


class CodeTooLarge(SandboxError, ValueError):
    """The program text is larger than Limits.max_code_bytes."""


class ConfinementError(SandboxStartError):
    """A required isolation layer is missing here; the message says which and how to provide it.

    Nothing ran: a Sandbox never falls back to running programs with less isolation than asked.
    """
