"""The `steadychat` command: the single seam where errors become one line and an exit code.

Every command takes `--store` (else STEADYCHAT_STORE, else the platform data dir); commands that
talk to a server take `--server`/`--token` (else STEADYCHAT_SERVER/STEADYCHAT_TOKEN). Exit codes:
0 ok, 1 not all synced or a runtime failure, 2 bad input. A user mistake never prints a traceback.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO, TypeVar

import click

from tui.errors import SteadyChatError, UsageError
from tui.paths import default_store_path, flow_argument

# The command uses no pydantic plugin; without this, building the first model scans every
# installed package's entry points for one, on every start. An explicit setting (even empty) wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
_PLUGINS_OFF = ("__all__", "1", "true")  # the values pydantic's own loader reads as "no plugins"
_PLUGIN_LOADER = "pydantic.plugin._loader"


def _plugin_loader_stub() -> ModuleType:
    """What `pydantic.plugin._loader` answers when plugins are off: none, without importing
    `importlib.metadata` (and the email package under it: ~12 ms of every start) to find them.

    Pydantic imports the loader only for `get_plugins`, when it builds the first model; any other
    name, or plugins turned on again, loads the real module (the stub steps aside first)."""
    stub = ModuleType(_PLUGIN_LOADER)

    def get_plugins() -> Any:
        if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in _PLUGINS_OFF:
            return ()
        return _real_loader().get_plugins()

    def _real_loader() -> Any:
        if sys.modules.get(_PLUGIN_LOADER) is stub:
            del sys.modules[_PLUGIN_LOADER]
        return importlib.import_module(_PLUGIN_LOADER)

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):  # the import system's probes (`__path__`, ...): a plain module
            raise AttributeError(name)
        return getattr(_real_loader(), name)

    stub.get_plugins = get_plugins  # type: ignore[attr-defined]
    stub.__getattr__ = __getattr__  # type: ignore[method-assign]
    return stub


if os.environ["PYDANTIC_DISABLE_PLUGINS"] in _PLUGINS_OFF and _PLUGIN_LOADER not in sys.modules:
    sys.modules[_PLUGIN_LOADER] = _plugin_loader_stub()

F = TypeVar("F", bound=Callable[..., Any])
LIST_PAGE = 500  # sessions read per query by `steadychat sessions`


def _fail(message: str, code: int) -> None:
    click.echo(f"steadychat: {message}", err=True)
    sys.exit(code)


def reports_errors(fn: F) -> F:
    """Turn SteadyChat errors into one line on stderr and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SteadyChatError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted; everything shown so far is saved", 130)
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(0)

    return wrapper  # type: ignore[return-value]


store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The local store file (else STEADYCHAT_STORE, else the platform data dir).",
)
server_option = click.option(
    "--server", envvar="STEADYCHAT_SERVER", default=None, help="Sync server URL (else STEADYCHAT_SERVER)."
)
token_option = click.option(
    "--token", envvar="STEADYCHAT_TOKEN", default=None, help="Bearer token for the server (else STEADYCHAT_TOKEN)."
)


def _store_path(path: Path | None) -> Path:
    return path if path is not None else default_store_path()


def _open_store(path: Path | None, *, create: bool = True) -> Any:
    """The store; read-only commands pass create=False so a mistyped path is not created."""
    from tui.store import Store

    return Store.open(_store_path(path), create=create)


def _check_server(server: str | None, token: str | None) -> None:
    if server and not token:
        raise UsageError("--server needs --token (or STEADYCHAT_TOKEN): the server authenticates every request")
    if server and not server.startswith(("http://", "https://")):
        raise UsageError(f"--server {server!r}: expected a URL like http://127.0.0.1:8787")


class DefaultToDemo(click.Group):
    """A bare `steadychat` (or one with only demo options) runs the demo; usage errors are one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help", "--version")):
            args = ["demo", *args]
        return super().parse_args(ctx, args)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = False,
        **extra: Any,
    ) -> Any:
        del standalone_mode  # always False: click must not print its own errors; this method does
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "steadychat"
            _fail(f"{exc.format_message()} (see `{command} --help`)", exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            _fail("aborted", 1)


@click.group(cls=DefaultToDemo, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="steadychat")
def main() -> None:
    """SteadyChat: a terminal chatbot client that never loses a conversation."""


# --------------------------------------------------------------------------- validate
@main.command()
@click.argument("flows", nargs=-1, required=True, type=click.Path(path_type=Path))
@reports_errors
def validate(flows: tuple[Path, ...]) -> None:
    """Check flow files; print `file:line: what is wrong` for the first error of each, and
    `file:line: warning: ...` for what Typebot accepts but stops at (exit 0)."""
    from tui.errors import FlowError
    from tui.flow.loader import check_flow, load_flow

    failed = 0
    for path in map(flow_argument, flows):
        try:
            flow = load_flow(path)
            warnings = check_flow(flow, path=str(path))
        except FlowError as exc:
            line = str(exc)
            click.echo(line if line.startswith(str(path)) else f"{path}: {line}", err=True)
            failed += 1
            continue
        for warning in warnings:
            click.echo(warning, err=True)
        click.echo(f"{path}: ok ({flow.name}: {len(flow.groups)} groups)")
    if failed:
        sys.exit(2)


# --------------------------------------------------------------------------- play
@main.command()
@click.argument("flow_path", metavar="FLOW", type=click.Path(path_type=Path))
@click.option(
    "--answers",
    "answers_file",
    type=click.File("rb"),
    default=None,
    help="Answers, one per line, UTF-8 (else standard input).",
)
@click.option("--json", "as_json", is_flag=True, help="One event object per line.")
@click.option("--new", "new", is_flag=True, help="Start a new session even if one is active.")
@click.option("--session", "session_id", default=None, help="Resume this session id.")
@store_option
@server_option
@token_option
@reports_errors
def play(
    flow_path: Path,
    answers_file: BinaryIO | None,
    as_json: bool,
    new: bool,
    session_id: str | None,
    store_path: Path | None,
    server: str | None,
    token: str | None,
) -> None:
    """Run a flow headless: answers from a file or stdin, one per line."""
    from tui.headless import play_flow

    _check_server(server, token)
    if new and session_id:
        raise UsageError("--new and --session cannot be used together")
    code = play_flow(
        flow_argument(flow_path),
        store_path=_store_path(store_path),
        answers=answers_file if answers_file is not None else sys.stdin,
        as_json=as_json,
        new=new,
        session_id=session_id,
        server=server,
        token=token,
    )
    sys.exit(code)


# --------------------------------------------------------------------------- sessions
def _local_pages(store: Any, limit: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """The local sessions as `sessions --json` gives them, newest first (a conflict shows as the
    status), a page at a time from the store's session index; at most `limit` rows."""
    conflicts = store.conflicts()
    before = None
    left = limit
    while left is None or left > 0:
        want = LIST_PAGE if left is None else min(LIST_PAGE, left)
        page = store.session_page(want, before=before)
        yield [
            {
                "id": s.id,
                "flow_id": s.flow_id,
                "flow_name": s.flow_name,
                "status": "conflict" if s.id in conflicts else s.status,
                "created_at": s.created_at,
                "last_seq": s.last_seq,
                "queued": s.queued,
            }
            for s in page
        ]
        if len(page) < want:
            return
        before = page[-1].id
        left = None if left is None else left - len(page)


def _local_rows(store: Any, limit: int | None = None) -> list[dict[str, Any]]:
    return [row for page in _local_pages(store, limit) for row in page]


def _server_rows(store: Any, server: str, token: str) -> list[dict[str, Any]]:
    """The server's sessions for this token, newest first, in the local rows' shape; a session
    this store does not hold has status `server-only`."""
    from tui.sync.remote import ServerApi

    with ServerApi(server, token) as api:
        listed = api.list_all()
    local = {row["id"]: row for row in _local_rows(store)}
    rows = []
    for item in listed:
        mine = local.get(item.id)
        rows.append(
            {
                "id": item.id,
                "flow_id": item.flow_id,
                "flow_name": mine["flow_name"] if mine else "",
                "status": mine["status"] if mine else "server-only",
                "created_at": item.created_at,
                "updated_at": item.updated_at,
                "last_seq": item.last_seq,
                "local_last_seq": mine["last_seq"] if mine else 0,
                "queued": mine["queued"] if mine else 0,
            }
        )
    return rows


@main.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list of session objects.")
@click.option("--server", default=None, help="List this sync server's sessions instead (needs --token).")
@token_option
@store_option
@reports_errors
def sessions(as_json: bool, server: str | None, token: str | None, store_path: Path | None) -> None:
    """List sessions, newest first: id, flow, status, events, queued (--server: the server's)."""
    _check_server(server, token)
    store = _open_store(store_path, create=False)
    try:
        if server:
            pages: Iterator[list[dict[str, Any]]] = iter([_server_rows(store, server, token or "")])
        elif as_json:
            pages = iter([_local_rows(store)])
        else:
            pages = _local_pages(store)  # printed page by page: the newest show at once
        shown = 0
        for rows in pages:
            if as_json:
                click.echo(json.dumps(rows, ensure_ascii=False))
                continue
            if rows and not shown:
                when = "UPDATED" if server else "CREATED"
                click.echo(f"{'ID':32}  {'FLOW':20}  {'STATUS':11}  {'EVENTS':>6}  {'QUEUED':>6}  {when}")
            for row in rows:
                click.echo(
                    f"{row['id']:32}  {row['flow_id'][:20]:20}  {row['status']:11}  {row['last_seq']:>6}  "
                    f"{row['queued']:>6}  {row['updated_at' if server else 'created_at']}"
                )
            shown += len(rows)
    finally:
        store.close()
    if not shown and not as_json:
        hint = "no sessions on that server for this token" if server else "no sessions yet"
        click.echo(f"{hint}: try `steadychat play flows/demo.yaml`")


# --------------------------------------------------------------------------- export
@main.command()
@click.argument("session_id", metavar="SID")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), default="json", show_default=True)
@store_option
@reports_errors
def export(session_id: str, fmt: str, store_path: Path | None) -> None:
    """Export a session: its events as JSON, or a readable Markdown transcript."""
    from tui.transcript import export_json, export_markdown

    store = _open_store(store_path, create=False)
    try:
        writer = export_json if fmt == "json" else export_markdown
        for chunk in writer(store, store.resolve_id(session_id)):
            click.echo(chunk, nl=False)
    finally:
        store.close()


# --------------------------------------------------------------------------- drop
@main.command()
@click.argument("session_id", metavar="SID")
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the export goes first (default: steadychat-dropped-SID.json next to the store); never overwritten.",
)
@click.option("--yes", is_flag=True, help="Do not ask (needed when not run in a terminal).")
@store_option
@reports_errors
def drop(session_id: str, export_path: Path | None, yes: bool, store_path: Path | None) -> None:
    """Export a session to a file, then delete it from the store (e.g. one that can never sync)."""
    from tui.drop import default_export_path, drop_session

    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError("drop deletes a session from the store: confirm with --yes (nothing was dropped)")
        return click.confirm(question, default=False, err=True)

    store = _open_store(store_path, create=False)
    try:
        session_id = store.resolve_id(session_id)
        target = export_path if export_path is not None else default_export_path(store, session_id)
        count = drop_session(store, session_id, export_path=target, confirm=confirm)
    finally:
        store.close()
    click.echo(f"exported session {session_id} ({count} events) to {target}; dropped it from the store", err=True)


# --------------------------------------------------------------------------- server and sync
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=int)
@click.option(
    "--db",
    "db",
    default=None,
    help="Server database: a SQLite file path (default: server.db in the data dir) or postgresql://USER@HOST[:PORT]/DB.",
)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    envvar="STEADYCHAT_TOKEN",
    help="A client token; repeat for several client identities.",
)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes sharing the port and db.")
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds a connection has to send its request headers.",
)
@click.option(
    "--max-connections", default=1000, show_default=True, type=int, help="Open connections per worker, beyond: 503."
)
@reports_errors
def server(
    host: str,
    port: int,
    db: str | None,
    tokens: tuple[str, ...],
    workers: int,
    header_timeout: float,
    max_connections: int,
) -> None:
    """Run the sync server."""
    from tui.paths import data_dir
    from tui.server.run import ServerOptions, run_server

    if not tokens:
        raise UsageError("server needs at least one --token (or STEADYCHAT_TOKEN)")
    if db is None:
        data_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    options = ServerOptions(
        db=db or str(data_dir() / "server.db"),
        tokens=list(tokens),
        host=host,
        port=port,
        workers=workers,
        header_timeout=header_timeout,
        max_connections=max_connections,
    )
    run_server(options)


def _seconds(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    """A timeout is a finite number of seconds, zero or more."""
    if not math.isfinite(value) or value < 0:
        raise click.BadParameter(f"{value:g}: expected a number of seconds, 0 or more")
    return value


@main.command()
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=float,
    callback=_seconds,
    help="Give up after this many seconds (0 or more).",
)
@click.option("-v", "--verbose", is_flag=True, help="Print the sync log (batches sent, acked, retried) on stderr.")
@store_option
@server_option
@token_option
@reports_errors
def sync(timeout: float, verbose: bool, store_path: Path | None, server: str | None, token: str | None) -> None:
    """Deliver every queued step; exit 0 when all are acknowledged, else 1 with the count left."""
    from tui.sync.background import sync_report

    if not server:
        raise UsageError("sync needs --server (or STEADYCHAT_SERVER)")
    _check_server(server, token)
    store = _open_store(store_path, create=False)
    try:
        store.check_writable()  # acks are written after events are sent: refuse a damaged store first
        on_log = (lambda line: click.echo(f"sync: {line}", err=True)) if verbose else None
        report = sync_report(store, server, token or "", timeout, on_log=on_log)
        conflicts = store.conflicts()
    finally:
        store.close()
    for sid, mark in conflicts.items():
        click.echo(
            f"conflict: session {sid} diverged from the server ({mark.get('detail', '')}); keep yours with "
            f"`steadychat resolve {sid[:8]} --fork` or take the server's with `--take-server`",
            err=True,
        )
    if report.left:
        others = {sid: why for sid, why in report.conflicts.items() if sid not in conflicts}
        if conflicts and not others:
            click.echo(f"{report.left} events still queued until the conflict is resolved", err=True)
        else:
            click.echo(_why_not_synced(replace(report, conflicts=others), server, timeout), err=True)
        sys.exit(1)
    if conflicts:
        sys.exit(1)
    click.echo("all events synced", err=True)


def _why_not_synced(report: Any, server: str, timeout: float) -> str:
    """One line: how many events are left and why (token, network, a named session, time)."""
    from tui.sync.status import ConnState

    left = f"{report.left} events still queued"
    status = report.status
    if status.state is ConnState.UNAUTHORIZED:
        return f"{left}: {server} refused the token (unauthorized); check --token or STEADYCHAT_TOKEN"
    if report.conflicts:
        sid, why = next(iter(report.conflicts.items()))
        more = f" (and {len(report.conflicts) - 1} more sessions)" if len(report.conflicts) > 1 else ""
        hint = f"; `steadychat drop {sid}` exports it to a file and removes it" if "poison" in why else ""
        return f"{left}: conflict in session {sid}{more}: {why}{hint}"
    if status.state is ConnState.OFFLINE:
        return f"{left}: cannot reach {server} ({status.detail or 'no connection'}); is the server running?"
    if status.state is ConnState.CONNECTING:
        return f"{left}: no answer from {server} within {timeout:g}s; is the server running?"
    detail = f" ({status.detail})" if status.detail else ""
    return f"{left}: not all delivered within {timeout:g}s{detail}; run sync again or raise --timeout"


# --------------------------------------------------------------------------- resume anywhere
def _remote_id(store: Any, api: Any, text: str) -> str:
    """A session id typed for pull/resolve: a unique prefix among this store's and the server's."""
    from tui import session_ids

    prefix = session_ids.normalise(text)
    if len(prefix) == session_ids.FULL_LENGTH:
        return prefix
    local = [sid for sid in store.session_ids() if sid.startswith(prefix)]
    remote = [item.id for item in api.list_all() if item.id.startswith(prefix)]
    return session_ids.pick(prefix, local + remote, f"{store.path} or {api.url}")


def _needs_server(command: str, server: str | None, token: str | None) -> str:
    if not server:
        raise UsageError(f"{command} needs --server (or STEADYCHAT_SERVER)")
    _check_server(server, token)
    return server


@main.command()
@click.argument("session_id", metavar="SID")
@click.option(
    "--flow",
    "flow_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The flow file the session runs, if this store has never run that version.",
)
@store_option
@server_option
@token_option
@reports_errors
def pull(
    session_id: str, flow_path: Path | None, store_path: Path | None, server: str | None, token: str | None
) -> None:
    """Copy a session from the server into the local store (only what is new here)."""
    from tui.flow.loader import load_flow
    from tui.pull import pull_session
    from tui.sync.remote import ServerApi

    url = _needs_server("pull", server, token)
    flow = load_flow(flow_path) if flow_path is not None else None
    store = _open_store(store_path)
    try:
        with ServerApi(url, token or "") as api:
            sid = _remote_id(store, api, session_id)
            result = pull_session(store, api, sid, flow=flow)
    finally:
        store.close()
    click.echo(f"pulled {result.fetched} events of session {sid}: now at seq {result.last_seq}", err=True)
    if result.local_ahead:
        click.echo(
            f"{result.local_ahead} local steps are not on the server yet: `steadychat sync` sends them", err=True
        )
    if result.flow_missing:
        click.echo(
            f"this store lacks the session's flow ({result.flow_missing[:12]}): continue with "
            f"`steadychat play FLOW --session {sid[:8]}` using the file it started with",
            err=True,
        )
    else:
        click.echo(f"continue with `steadychat play FLOW --session {sid[:8]}` or `steadychat run`", err=True)


@main.command()
@click.argument("session_id", metavar="SID")
@click.option("--fork", "fork", is_flag=True, help="Keep your version as a new session; SID takes the server's.")
@click.option("--take-server", "take_server", is_flag=True, help="Export your steps to a file, then take the server's.")
@store_option
@server_option
@token_option
@reports_errors
def resolve(
    session_id: str, fork: bool, take_server: bool, store_path: Path | None, server: str | None, token: str | None
) -> None:
    """End a sync conflict on a session: --fork or --take-server (nothing is lost either way)."""
    from tui.resolve import resolve_session
    from tui.sync.remote import ServerApi

    if fork == take_server:
        raise UsageError("resolve needs exactly one of --fork (keep yours as a new session) or --take-server")
    url = _needs_server("resolve", server, token)
    store = _open_store(store_path, create=False)
    try:
        with ServerApi(url, token or "") as api:
            sid = _remote_id(store, api, session_id)
            result = resolve_session(store, api, sid, "fork" if fork else "take-server", export_dir=store.path.parent)
    finally:
        store.close()
    if result.diverged_at is None:
        click.echo(f"session {sid} has no conflict: it matches the server (now at seq {result.server_seq})", err=True)
        return
    if result.fork_id:
        click.echo(
            f"forked: your {result.mine} steps from seq {result.diverged_at} are session {result.fork_id} "
            f"(a new session; `steadychat sync` sends it); session {sid[:8]} now follows the server",
            err=True,
        )
        click.echo(result.fork_id)
        return
    click.echo(
        f"took the server's log for session {sid[:8]}: your {result.mine} steps from seq {result.diverged_at} "
        f"were saved to {result.export_path}",
        err=True,
    )
    click.echo(str(result.export_path))


# --------------------------------------------------------------------------- the TUI
@main.command()
@click.argument("flow_path", metavar="FLOW", type=click.Path(path_type=Path))
@click.option("--new", "new", is_flag=True, help="Start a new session even if one is active.")
@click.option("--session", "session_id", default=None, help="Resume this session id.")
@store_option
@server_option
@token_option
@reports_errors
def run(
    flow_path: Path, new: bool, session_id: str | None, store_path: Path | None, server: str | None, token: str | None
) -> None:
    """Run a flow in the terminal UI, resuming its latest active session unless --new."""
    from tui.app.launch import launch_run

    _check_server(server, token)
    if new and session_id:
        raise UsageError("--new and --session cannot be used together")
    launch_run(
        flow_argument(flow_path),
        store_path=_store_path(store_path),
        new=new,
        session_id=session_id,
        server=server,
        token=token,
    )


@main.command()
@click.argument("flow_path", metavar="[FLOW]", required=False, type=click.Path(path_type=Path))
@click.option(
    "--server-db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The embedded server's database (default: in the data dir).",
)
@click.option("--new", "new", is_flag=True, help="Start a new session even if one is active.")
@store_option
@reports_errors
def demo(flow_path: Path | None, server_db: Path | None, new: bool, store_path: Path | None) -> None:
    """The demo: TUI + embedded sync server + fault proxy (F2 cuts the network)."""
    from tui.app.launch import launch_demo

    launch_demo(
        flow_argument(flow_path) if flow_path else None,
        store_path=_store_path(store_path),
        server_db=server_db,
        new=new,
    )


# --------------------------------------------------------------------------- flow tests
@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--update", is_flag=True, help="Record the actual transcripts as the expected ones (inline or golden).")
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a JUnit XML report to this file.",
)
@reports_errors
def test_flows(paths: tuple[Path, ...], update: bool, junit_path: Path | None) -> None:
    """Run *.chat.yaml flow tests (folders searched recursively; default: the current folder)."""
    from tui.chattest.command import run_chat_tests

    sys.exit(run_chat_tests(list(paths), update=update, junit=junit_path, out=sys.stdout, err=sys.stderr))
