"""`steadychat server` as a user starts it: databases it must refuse untouched, start-up mistakes
(one line, exit 2, no file left behind), 0600 files, schema versions, and the whole path
`server --workers 2` → `play --server` → `sync` exactly once on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.databases import server_seqs
from tests.servers import ServerProcess
from tui.server.sqlite_backend import APPLICATION_ID, SCHEMA_VERSION
from tui.steps import as_json_data
from tui.store import Store

REPO = Path(__file__).resolve().parents[2]
TOKEN = "token-start-0123456789"
SID = "0123456789abcdef0123456789abcdef"
META = {"flow_id": "demo", "flow_hash": "f" * 64, "device_id": "d" * 32, "created_at": "2026-01-01T00:00:00.000Z"}


def steadychat(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "STEADYCHAT_SERVER": "", "STEADYCHAT_TOKEN": ""},
    )


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], *words: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("steadychat: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file in `folder` by name → sha256 of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# --------------------------------------------------------------------------- files that are not ours
def _client_store(path: Path) -> None:
    with Store.open(path) as store:
        assert store.session_ids() == []
    subprocess.run(
        [sys.executable, "-m", "tui", "play", "flows/demo.yaml", "--store", str(path)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


def _foreign_sqlite(path: Path, app_id: int = 0) -> None:
    conn = sqlite3.connect(path)
    with closing(conn):
        conn.execute(f"PRAGMA application_id={app_id}")
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('mine, not the server''s')")
        conn.commit()


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("text", ["not an SQLite file"]),
        ("client store", ["tables", "sessions"]),
        ("other sqlite", ["tables notes"]),
        ("other application", ["application_id 0x1234"]),
    ],
)
def test_a_file_that_is_not_a_server_database_is_refused_untouched(tmp_path: Path, kind: str, words: list[str]) -> None:
    target = tmp_path / "data.db"
    if kind == "text":
        target.write_text("my notes\nnot a database\n" * 50)
    elif kind == "client store":
        _client_store(target)
    elif kind == "other sqlite":
        _foreign_sqlite(target)
    else:
        _foreign_sqlite(target, app_id=0x1234)
    before = snapshot(tmp_path)
    result = steadychat("server", "--db", str(target), "--port", "0", "--token", TOKEN, timeout=30)
    line = assert_one_line_exit_2(result, str(target), "not a SteadyChat server database", *words)
    assert "untouched" in line
    assert snapshot(tmp_path) == before, "the refused file (or a -wal/-shm beside it) changed"


# --------------------------------------------------------------------------- start-up mistakes
@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("mistake", ["missing directory", "port out of range", "port in use", "bad host", "workers 0"])
def test_start_up_mistakes_are_one_line_exit_2_and_leave_no_file(tmp_path: Path, busy_port: int, mistake: str) -> None:
    db = tmp_path / "server.db"
    args = ["--db", str(db), "--port", "0", "--token", TOKEN]
    words: list[str] = []
    if mistake == "missing directory":
        args[1] = str(tmp_path / "nowhere" / "server.db")
        words = ["does not exist"]
    elif mistake == "port out of range":
        args[3] = "99999"
        words = ["--port 99999"]
    elif mistake == "port in use":
        args[3] = str(busy_port)
        words = [f"--port {busy_port}", "in use"]
    elif mistake == "bad host":
        args += ["--host", "no-such-host.invalid"]
        words = ["--host no-such-host.invalid"]
    else:
        args += ["--workers", "0"]
        words = ["--workers 0"]
    assert_one_line_exit_2(steadychat("server", *args, timeout=30), *words)
    assert list(tmp_path.iterdir()) == [], "a failed start left a file behind"


# --------------------------------------------------------------------------- a running server's files
def test_server_files_are_private_and_marked(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    server = ServerProcess(db, [TOKEN]).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as api:
            assert api.put(f"/v1/sessions/{SID}", json=META).status_code == 201
            event = {"seq": 1, "type": "message", "ts": "t", "data": {}}
            assert api.post(f"/v1/sessions/{SID}/events", json={"events": [event]}).json() == {"acked_seq": 1}
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files == ["server.db", "server.db-lock", "server.db-shm", "server.db-wal"], files
        for path in tmp_path.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name} is {oct(path.stat().st_mode)}"
    finally:
        assert server.terminate() in (0, -15)
    header = db.read_bytes()[:100]
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID, "the marker is in the main file's header"


def test_an_existing_database_gets_0600(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    ServerProcess(db, [TOKEN]).start().terminate()
    db.chmod(0o644)
    ServerProcess(db, [TOKEN]).start().terminate()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    ServerProcess(db, [TOKEN]).start().terminate()
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    before = snapshot(tmp_path)
    result = steadychat("server", "--db", str(db), "--port", "0", "--token", TOKEN, timeout=30)
    assert_one_line_exit_2(result, f"schema version {SCHEMA_VERSION + 1}", "newer")
    assert snapshot(tmp_path) == before


def test_a_newer_postgres_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    from tests.databases import PgDatabase, require_pg

    require_pg()
    import psycopg

    database = PgDatabase()
    try:
        ServerProcess(database.dsn, [TOKEN]).start().terminate()
        with psycopg.connect(database.dsn, autocommit=True) as conn:
            conn.execute("UPDATE steadychat_schema SET version = 99")
        result = steadychat("server", "--db", database.dsn, "--port", "0", "--token", TOKEN, timeout=30)
        assert_one_line_exit_2(result, "schema version 99", "newer")
    finally:
        database.drop()


def test_an_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port with nothing listening (bound, never listened)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        dsn = f"postgresql://postgres@127.0.0.1:{port}/none"
        result = steadychat("server", "--db", dsn, "--port", "0", "--token", TOKEN, timeout=30)
    assert_one_line_exit_2(result, f"--db {dsn}", "cannot use it")


def test_a_version_1_database_is_migrated_and_keeps_its_events(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    with closing(sqlite3.connect(db)) as conn:  # what the first server wrote (no marker)
        conn.executescript(
            """
            PRAGMA journal_mode=WAL;
            CREATE TABLE sessions (sid TEXT PRIMARY KEY, owner TEXT NOT NULL, meta TEXT NOT NULL, created TEXT NOT NULL);
            CREATE TABLE events (sid TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, ts TEXT NOT NULL,
                                 data TEXT NOT NULL, PRIMARY KEY (sid, seq)) WITHOUT ROWID;
            PRAGMA user_version=1;
            """
        )
        owner = hashlib.sha256(TOKEN.encode()).hexdigest()
        meta = json.dumps(META, sort_keys=True, separators=(",", ":"))
        conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (SID, owner, meta, "2026-01-01T00:00:00+00:00"))
        conn.executemany(
            "INSERT INTO events VALUES (?, ?, 'message', 't', ?)", [(SID, n, json.dumps({"n": n})) for n in (1, 2, 3)]
        )
        conn.commit()
    server = ServerProcess(db, [TOKEN]).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as api:
            assert api.put(f"/v1/sessions/{SID}", json=META).status_code == 200, "same meta: confirmed"
            assert api.get(f"/v1/sessions/{SID}").json()["last_seq"] == 3
            again = [{"seq": 3, "type": "message", "ts": "t", "data": {"n": 3}}]
            assert api.post(f"/v1/sessions/{SID}/events", json={"events": again}).json() == {"acked_seq": 3}
            new = [{"seq": 4, "type": "message", "ts": "t", "data": {"n": 4}}]
            assert api.post(f"/v1/sessions/{SID}/events", json={"events": new}).json() == {"acked_seq": 4}
            page = api.get(f"/v1/sessions/{SID}/events").json()["events"]
            assert [e["data"] for e in page] == [{"n": n} for n in (1, 2, 3, 4)]
    finally:
        server.terminate()


# --------------------------------------------------------------------------- the whole path, two workers
def test_two_workers_serve_play_and_sync_exactly_once(tmp_path: Path, server_db: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "server", "--db", server_db, "--workers", "2", "--port", "0", "--token", TOKEN],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "STEADYCHAT_TOKEN": ""},
        start_new_session=True,
    )
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+) .*2 workers", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(30) and found, "the server did not announce two workers"
        url = found[0]
        store = tmp_path / "client.db"
        stores = [store, tmp_path / "second.db"]
        for path in stores:  # two clients, each with sessions of its own, through both workers
            for flow, answers in (("flows/support.yaml", "Billing\nAn invoice\n"), ("flows/demo.yaml", "")):
                played = steadychat(
                    "play", flow, "--new", "--store", str(path), "--server", url, "--token", TOKEN, stdin=answers
                )
                assert played.returncode == 0, played.stderr
            synced = steadychat("sync", "--store", str(path), "--server", url, "--token", TOKEN, "--timeout", "20")
            assert synced.returncode == 0 and "all events synced" in synced.stderr, synced.stderr
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as api:
            for path in stores:
                with Store.open(path) as opened:
                    for sid in opened.session_ids():
                        local = [as_json_data(e) for e in opened.events(sid)]
                        remote = api.get(f"/v1/sessions/{sid}/events", params={"limit": 500}).json()["events"]
                        assert remote == local, f"{sid[:8]}: the server's log differs from the client's"
                        assert server_seqs(server_db, sid) == list(range(1, len(local) + 1)), "exactly once"
                        assert opened.acked_seq(sid) == len(local)
    finally:
        if proc.poll() is None:
            proc.terminate()  # SIGTERM to the parent: it stops its workers
        code = proc.wait(20)
        reader.join(5)
        if proc.stderr is not None:
            proc.stderr.close()
    assert code in (0, -15), code


# --------------------------------------------------------------------------- slow clients (issue 12, item 14)
def test_slow_headers_are_cut_off_and_connections_are_capped(tmp_path: Path) -> None:
    cap = 20
    server = ServerProcess(
        tmp_path / "server.db", [TOKEN], extra=("--header-timeout", "1", "--max-connections", str(cap))
    )
    server.start()
    slow: list[socket.socket] = []
    try:
        for _ in range(cap + 10):  # each sends half its headers and then nothing
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(sock)
        answers = []
        for sock in slow:  # the guard: a socket timeout of 15 s, far beyond the 1 s header timeout
            received = b""
            for _ in range(100):  # bounded: read until the server closes the connection
                try:
                    chunk = sock.recv(4096)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    break
                received += chunk
            answers.append(received)
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
        cut = [a for a in answers if a == b""]
        assert len(refused) >= 10 - 1 and len(refused) + len(cut) == len(answers), answers
        assert len(cut) >= cap - 1, "connections under the cap are closed by the header timeout, not answered"
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as api:
            assert api.get("/v1/health").json() == {"ok": True}, "real clients are served once the slow ones are gone"
    finally:
        for sock in slow:
            sock.close()
        server.terminate()
