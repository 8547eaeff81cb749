"""One tree of errors, so that the CLI is the single seam that turns them into one line.

    SteadyChatError
    ├── FlowError            a flow file cannot be read or is invalid (file:line: what)
    │   ├── UnsupportedFlowError   a Typebot export we cannot run (e.g. before June 2022)
    │   └── _Malformed       flow/json_lines.py, private: our line-keeping JSON pass gave up
    ├── EngineError          the flow misbehaves at run time (e.g. a loop without input)
    │   ├── ScriptStoppedError     a script ran past its time or memory limit (nothing committed)
    │   ├── ScriptRunaway    rules/javascript.py: V8 hit a limit; the engine re-raises it as
    │   │                    ScriptStoppedError naming the block
    │   └── ValueTooLarge    rules/expressions.py: a script's value is over 1 MiB; the engine
    │                        keeps the old value and shows a note
    ├── StoreError           the local store file cannot be used (corrupt, locked, foreign, full)
    │   ├── SessionBusyError another process drives this session
    │   └── _ForeignValue    store.py, private: a stored value that is not JSON
    ├── AnswerError          an answer refused before it is saved (too long, not text)
    ├── UsageError           a command-line mistake the parser cannot catch
    ├── ChatFileError        a `*.chat.yaml` flow test file is broken (file:line: what; fix)
    ├── SyncError            a sync failure that must stop a command (never raised into the UI)
    │   ├── OfflineError         no usable connection: transport error or no answer in time
    │   ├── SlowLinkError        a data request outlived its deadline while bytes were flowing
    │   ├── UnauthorizedError    the server refused the token
    │   └── ServerRefusalError   the server answered, but not usefully (5xx, 429, garbage)
    ├── ServerStartError     server/run.py: the server cannot start (bad host or port, port in use)
    ├── ServerDatabaseError  server/backend.py: the server database cannot be used
    └── RequestError         a request the sync server refuses: it becomes an HTTP answer, never a
        │                    CLI line
        ├── ApiError         server/app.py: any answer with a JSON error body
        ├── NotFound         server/backend.py: 404, an unknown session or another owner's
        ├── Rejected         server/backend.py: 409, the batch does not fit what the server holds
        ├── Unavailable      server/backend.py: 503, the database is busy or unreachable
        ├── Invalid          server/wire.py: 422, a body the protocol does not accept
        └── TooMany          server/wire.py: 413, more events than a batch may hold

The four SyncError kinds are what one request of the sync client can end in; the client turns
each into a state (offline, syncing/slow, unauthorized, retry) and never lets them reach the UI.

Every error's `str()` is the whole line the user sees. Private classes (underscore) are caught in
the module that raises them and become their parent's kind of line there.

One exception sits outside the tree, because a library's API requires its base:
`tui.flow.yaml_format._LimitError` subclasses PyYAML's `ComposerError` (raised from inside PyYAML's
composer, so the loader's own error handling marks the line); `parse_yaml` turns it into a
`FlowError` before it leaves the module.
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


class OfflineError(SyncError):
    """No usable connection to the sync server: a transport error, or no answer in time."""


class SlowLinkError(SyncError):
    """A data request outlived its total deadline while the link may still be alive."""


class UnauthorizedError(SyncError):
    """The sync server refused the token (401/403)."""

    def __init__(self, message: str = "the server refused the token") -> None:
        super().__init__(message)


class ServerRefusalError(SyncError):
    """The server answered but not usefully; retry after backoff, never sooner than
    `retry_after` seconds (its Retry-After), when given."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RequestError(SteadyChatError):
    """A request the sync server refuses; the server answers it with an HTTP error status."""
