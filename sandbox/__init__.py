"""Isolated, warm execution of untrusted matplotlib programs, and the execution tracer.

The trust boundary of iccgen: this package imports nothing from the rest of the project.
"""
from .doctor import Layer, doctor
from .errors import CodeTooLarge, ConfinementError, SandboxClosed, SandboxError, SandboxStartError
from .limits import Limits
from .pool import Sandbox
from .result import ExecResult, Status

__all__ = ["Sandbox", "Limits", "ExecResult", "Status", "doctor", "Layer", "SandboxError",
           "SandboxClosed", "SandboxStartError", "CodeTooLarge", "ConfinementError"]
