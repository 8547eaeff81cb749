"""One tree of errors, so that the CLI is the single seam that turns them into one line.

    SteadyChatError
    ├── FlowError            a flow file cannot be read or is invalid (file:line: what)
    │   └── UnsupportedFlowError   a Typebot export we cannot run (e.g. before June 2022)
    ├── EngineError          the flow misbehaves at run time (e.g. a loop without input)
    │   └── ScriptStoppedError     a script ran past its time or memory limit (nothing committed)
    ├── StoreError           the local store file cannot be used (corrupt, locked, foreign, full)
    │   └── SessionBusyError another process drives this session
    ├── AnswerError          an answer refused before it is saved (too long, not text)
    ├── UsageError           a command-line mistake the parser cannot catch
    ├── ChatFileError        a `*.chat.yaml` flow test file is broken (file:line: what; fix)
    └── SyncError            a sync failure that must stop a command (never raised into the UI)

Every error's `str()` is the whole line the user sees.
"""

from __future__ import annotations


class SteadyChatError(Exception):
    """Base of every error SteadyChat reports to a user."""

    exit_code = 2


class FlowError(SteadyChatError):
    """A flow file is unreadable or invalid. The message names file and line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class UnsupportedFlowError(FlowError):
    """A flow in a format we recognise but cannot run."""


class EngineError(SteadyChatError):
    """The flow cannot go on (for instance a loop that never waits for input)."""

    exit_code = 1


class ScriptStoppedError(EngineError):
    """A Set variable or Code script ran past its limit; the step is not committed, so the
    session stays at its last input and can be resumed."""


class StoreError(SteadyChatError):
    """The local store cannot be opened or written; the file is left untouched."""


class SessionBusyError(StoreError):
    """Another process is driving the same session."""


class AnswerError(SteadyChatError):
    """An answer that is refused before anything is committed (over the flow's size cap, or
    not valid text); the session stays where it was."""


class UsageError(SteadyChatError):
    """A command-line mistake."""


class ChatFileError(SteadyChatError):
    """A `*.chat.yaml` test file cannot be run as written. The message names file, line and fix."""

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}" if line is not None else f"{path}: {message}")


class SyncError(SteadyChatError):
    """A sync problem that must stop a command."""

    exit_code = 1
