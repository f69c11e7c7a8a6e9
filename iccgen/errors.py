"""Typed errors. Each message says what went wrong, where, and what to do next.

`UserError` and its subclasses are mistakes the user can fix (config, paths, inputs): the CLI
prints them on one line and exits with code 2, never with a traceback.
"""


class IccgenError(Exception):
    """Base of every error iccgen raises on purpose."""

    exit_code = 1


class UserError(IccgenError):
    """Something the user gave us is wrong; the message says how to fix it."""

    exit_code = 2


class ConfigError(UserError):
    """The job config (file or flags) is malformed or has a bad value."""


class OutputError(UserError):
    """The output location cannot be used (unwritable, or holds another job)."""


class NonAtomicOutput(OutputError):
    """The output filesystem cannot make a shard visible all at once (not local, S3 or GCS)."""


class JobMismatchError(OutputError):
    """The output folder holds a job whose config differs from this one."""


class OutputNotShared(OutputError):
    """A cluster node cannot see the output the driver sees (a relative or node-local path)."""


class LeaseHeld(OutputError):
    """Another driver holds the output's lease: one driver per output."""


class InputsChanged(UserError):
    """The job's inputs (seed files, the parent job) differ from those its plan was made from."""


class InputError(UserError):
    """An input (seed images, parent shards, programs) cannot be read."""


class ConfinementMissing(UserError):
    """A node cannot run programs with the sandbox's required isolation; nothing was started."""


class NodeCheckFailed(IccgenError):
    """A check run on each node at start did not finish (its node died, or the check crashed)."""


class ShardError(IccgenError):
    """A committed shard is unreadable (truncated, corrupt, wrong schema)."""


class EndpointError(IccgenError):
    """A model endpoint stayed unreachable or answered garbage after all retries."""


class ModelRequestError(IccgenError):
    """An endpoint refused one request (400/413/422: too long, bad input); others may pass."""


class CandidateErrors(IccgenError):
    """Too many of one unit's candidates raised: a bug in the pipeline, its templates or inputs."""


class JobFailed(IccgenError):
    """Some work units failed; committed shards are intact and a rerun resumes."""
