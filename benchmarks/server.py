"""`python -m benchmarks server [--quick] [--db DSN] [--workers N]`: the sync server under load.

Everything runs on 127.0.0.1, every client sends a fixed number of requests, and the run stops by
itself. The server is the real `python -m tui.server.run` (N workers, default 2) on the database
given by `--db` (a postgresql:// DSN: a scratch database is created beside it and dropped after,
or that database itself when the role may not create one; default: a SQLite file in a temp dir).

Parts, each followed by an exactly-once check read straight from the database (every session
holds seq 1..N once, N = what its client was acknowledged):

1. `server_posts_s_50`: 50 clients, each its own session, POST 5-event batches back to back
   over one keep-alive connection (closed loop); POSTs per second of wall time.
2. `server_p99_ms_200`: 200 clients doing the same; p99 of the POST latencies. Closed loop with
   no think time, so by Little's law the mean latency is about 200 / throughput: a p99 of
   100 ms needs well over 2,000 POST/s. Beside it (an extra key, not a redefinition),
   `server_p99_ms_200_paced`: the same 200 clients, each POSTing on a fixed schedule so that
   `server_paced_rate` (1,000) POSTs per second are offered in all; latency counts from when a
   POST was due, so a slow answer is not hidden by the delayed next send.
3. `server_vs_bare_asgi`: CPU seconds per POST of the server's processes in part 1 / the same
   for a bare Starlette app (benchmarks/bare_asgi.py: body → orjson → one executemany) under
   the same uvicorn, worker count and database, same load, same run.
4. `server_real_clients_timeouts_200`: 200 real `SyncClient`s (two processes of 100), each
   draining 2,000 queued events from its own store; read timeouts they hit.

The load generator (benchmarks/server_load.py) is raw asyncio on uvloop: the machine has 2
cores and the generator must not be what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import TOKEN, pct
from benchmarks.server_load import ClientPlan, run, session_plan

ROOT = Path(__file__).resolve().parents[1]
PER_POST = 5
PACED_RATE = 1000.0  # POST/s offered in all by the paced 200-client part (2/3 of the throughput goal)
GOALS = {
    "server_posts_s_50": (">=", 1500.0),
    "server_p99_ms_200": ("<=", 100.0),
    "server_vs_bare_asgi": ("<=", 1.5),
    "server_real_clients_timeouts_200": ("<=", 0),
}


@dataclass(frozen=True)
class ServerSizes:
    posts_50: int  # POSTs per client with 50 clients
    posts_200: int  # POSTs per client with 200 clients
    real_clients: int
    real_events: int


SERVER_SIZES = {
    "tiny": ServerSizes(4, 2, 4, 200),
    "quick": ServerSizes(40, 10, 200, 2000),
    "full": ServerSizes(100, 25, 200, 2000),
}


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes
def _cpu_seconds(root_pid: int) -> float:
    """utime + stime of `root_pid` and every descendant (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    tree = {root_pid}
    grew = True
    while grew:  # bounded by the number of processes
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(times.get(pid, 0.0) for pid in tree)


def _pid_cpu(pid: int) -> float:
    """utime + stime of one process (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DatabaseCpu:
    """CPU seconds of the database's processes for this run: on PostgreSQL the backends serving
    the bench database plus the cluster's WAL writer, checkpointer and background writer (read
    from pg_stat_activity and /proc; other databases' backends are not counted); on SQLite 0
    (it runs inside the server processes)."""

    AUX = ("walwriter", "checkpointer", "background writer")

    def __init__(self, db: str) -> None:
        self.db = db
        self.name = db.rpartition("/")[2].split("?")[0] if db.startswith("postgresql://") else None

    def _pids(self) -> list[int]:
        if self.name is None:
            return []
        rows = _query(
            self.db,
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (datname = %s OR backend_type = ANY(%s))",
            "",
            (self.name, list(self.AUX)),
        )
        return [int(pid) for (pid,) in rows]

    def sample(self) -> dict[int, float]:
        return {pid: _pid_cpu(pid) for pid in self._pids()}

    def since(self, before: dict[int, float]) -> float:
        """CPU seconds since `before` (a backend that appeared meanwhile counts from 0)."""
        now = self.sample()
        return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in now.items())


class Served:
    """A server process (ours or the bare one) on 127.0.0.1; stop() ends it and its workers."""

    LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        self.port = 0
        ready = threading.Event()
        self.lines: list[str] = []

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line.rstrip())
                match = self.LISTENING.search(line)
                if match and not self.port:
                    self.port = int(match.group(1))
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(60) or not self.port:
            self.stop()
            raise RuntimeError(f"server did not start: {' | '.join(self.lines[-5:])}")
        time.sleep(1.0)  # workers finish their start-up (pools open) before anything is timed

    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def ours(db: str, workers: int) -> Served:
    return Served(["-m", "tui.server.run", "--port", "0", "--db", db, "--token", TOKEN, "--workers", str(workers)])


def bare(db: str, workers: int) -> Served:
    return Served(["-m", "benchmarks.bare_asgi", "--db", db, "--workers", str(workers)])


# --------------------------------------------------------------------------- databases
def _query(db: str, sql_pg: str, sql_lite: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            return list(conn.execute(sql_pg, args).fetchall())
    import sqlite3

    lite = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return list(lite.execute(sql_lite, args).fetchall())
    finally:
        lite.close()


def stored_counts(db: str, sids: list[str], table: str | None = None) -> dict[str, tuple[int, int, int]]:
    """sid → (count, min seq, max seq) as stored (our tables, or `table`)."""
    pg_table = table or "steadychat_events"
    lite_table = table or "events"
    out: dict[str, tuple[int, int, int]] = {}
    for start in range(0, len(sids), 500):
        chunk = sids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = _query(
            db,
            f"SELECT sid, count(*), min(seq), max(seq) FROM {pg_table} WHERE sid = ANY(%s) GROUP BY sid",
            f"SELECT sid, count(*), min(seq), max(seq) FROM {lite_table} WHERE sid IN ({marks}) GROUP BY sid",
            (chunk,) if db.startswith("postgresql://") else tuple(chunk),
        )
        out.update({sid: (int(n), int(lo), int(hi)) for sid, n, lo, hi in rows})
    return out


def verify_exactly_once(db: str, expected: dict[str, int], table: str | None = None) -> None:
    """Every session holds seq 1..N exactly once, N as acknowledged; raises otherwise."""
    counts = stored_counts(db, list(expected), table)
    for sid, last in expected.items():
        if counts.get(sid, (0, 1, 0)) != ((last, 1, last) if last else (0, 1, 0)):
            raise AssertionError(f"exactly-once broken for {sid[:8]}: stored {counts.get(sid)}, acked {last}")


class ScratchPostgres:
    """A database created beside the one `--db` names and dropped after (else that one)."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.admin = dsn
        self.name: str | None = f"steadychat_bench_{uuid.uuid4().hex[:10]}"
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.dsn = f"{dsn.rpartition('/')[0]}/{self.name}"
        except psycopg.Error:
            self.name, self.dsn = None, dsn

    def drop(self) -> None:
        if self.name is None:
            return
        import psycopg

        with psycopg.connect(self.admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# --------------------------------------------------------------------------- parts
def _plans(clients: int, posts: int) -> tuple[list[str], list[ClientPlan]]:
    sids = [uuid.uuid4().hex for _ in range(clients)]
    return sids, [session_plan(sid, TOKEN, posts, PER_POST, "load") for sid in sids]


def _checked(plans: list[ClientPlan], sids: list[str], posts: int) -> dict[str, int]:
    failures = [f for plan in plans for f in plan.failures]
    if failures:
        raise AssertionError(f"{len(failures)} clients failed, first: {failures[0]}")
    acked = {sid: plan.last_ack for sid, plan in zip(sids, plans, strict=True)}
    if any(last != posts * PER_POST for last in acked.values()):
        raise AssertionError("a client was not acknowledged up to its last event")
    return acked


def load_part(
    server: Served, db: str, clients: int, posts: int, table: str | None = None, rate: float = 0.0
) -> dict[str, float]:
    """`clients` × `posts` POSTs; exactly-once verified; throughput, latencies, CPU per POST of
    each component (server processes, database processes, this load generator)."""
    sids, plans = _plans(clients, posts)
    database = DatabaseCpu(db)
    cpu0, db0, load0 = server.cpu(), database.sample(), time.process_time()
    seconds = run(server.port, plans, rate)
    cpu, load = server.cpu() - cpu0, time.process_time() - load0
    db_cpu = database.since(db0)
    verify_exactly_once(db, _checked(plans, sids, posts), table)
    latencies = [ns / 1e6 for plan in plans for ns in plan.latencies_ns]
    total = clients * posts
    return {
        "posts_s": total / seconds,
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "cpu_ms_per_post": cpu * 1000 / total,
        "db_cpu_ms_per_post": db_cpu * 1000 / total,
        "load_cpu_ms_per_post": load * 1000 / total,
    }


def build_client_stores(folder: Path, count: int, events: int) -> list[Path]:
    """`count` real stores, each with one session of the bench flow and `events` queued events."""
    from benchmarks.common import load_bench_flow
    from tui.session import Session
    from tui.steps import StoredEvent
    from tui.store import Store

    flow = load_bench_flow(folder)
    paths = []
    for i in range(count):
        path = folder / f"client-{i:03d}.db"
        with Store.open(path) as store:
            session = Session.start(store, flow)
            sid, last = session.id, session.last_seq
            session.close()
            while last < events:  # bounded: +500 per round
                upto = min(last + 500, events)
                batch = [
                    StoredEvent(
                        seq=seq,
                        type="message",
                        ts="2026-01-01T00:00:00.000Z",
                        data={"kind": "text", "text": f"queued while offline {seq}", "role": "bot"},
                    )
                    for seq in range(last + 1, upto + 1)
                ]
                store.append_events(sid, batch)
                last = upto
        paths.append(path)
    return paths


def real_clients_part(server: Served, db: str, stores: list[Path]) -> dict[str, Any]:
    """Two processes of real SyncClients drain every store; timeouts counted, exactly-once checked."""
    from tui.store import Store

    url = f"http://127.0.0.1:{server.port}"
    half = (len(stores) + 1) // 2
    groups = [stores[:half], stores[half:]]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server_clients", url, TOKEN, "300", *map(str, group)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for group in groups
        if group
    ]
    results = [json.loads(proc.communicate(timeout=600)[0].strip().splitlines()[-1]) for proc in procs]
    seconds = time.perf_counter() - t0
    expected: dict[str, int] = {}
    for path in stores:
        with Store.open(path) as store:
            for sid in store.session_ids():
                if store.pending_count(sid):
                    raise AssertionError(f"{path.name}: {store.pending_count(sid)} events left")
                expected[sid] = store.acked_seq(sid)
    verify_exactly_once(db, expected)
    return {
        "timeouts": sum(r["timeouts"] for r in results),
        "left": sum(r["left"] for r in results),
        "events_s": sum(expected.values()) / seconds,
        "samples": [s for r in results for s in r["samples"]][:3],
    }


# --------------------------------------------------------------------------- the run
def run_server_bench(sizes_name: str, db_arg: str | None, workers: int, tmp: Path | None) -> dict[str, Any]:
    sizes = SERVER_SIZES[sizes_name]
    started = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="steadychat-server-bench-", dir=tmp) as name:
        folder = Path(name)
        scratch = ScratchPostgres(db_arg) if db_arg and db_arg.startswith("postgresql://") else None
        db = scratch.dsn if scratch else (db_arg or str(folder / "server.db"))
        kind = "postgresql" if db.startswith("postgresql://") else "sqlite"
        try:
            _log(f"server bench on {kind}, {workers} workers: building {sizes.real_clients} client stores ...")
            stores_dir = folder / "clients"
            stores_dir.mkdir()
            stores = build_client_stores(stores_dir, sizes.real_clients, sizes.real_events)

            server = ours(db, workers)
            try:
                _log(f"ours: 50 clients x {sizes.posts_50} POSTs ...")
                ours_50 = load_part(server, db, 50, sizes.posts_50)
                _log(f"ours: 200 clients x {sizes.posts_200} POSTs ...")
                ours_200 = load_part(server, db, 200, sizes.posts_200)
                _log(f"ours: 200 clients x {sizes.posts_200} POSTs paced at {PACED_RATE:.0f} POST/s ...")
                paced_200 = load_part(server, db, 200, sizes.posts_200, rate=PACED_RATE)
            finally:
                server.stop()
            baseline = bare(db, workers)
            try:
                _log(f"bare ASGI: 50 clients x {sizes.posts_50} POSTs ...")
                bare_50 = load_part(baseline, db, 50, sizes.posts_50, table="bench_bare_events")
            finally:
                baseline.stop()
            server = ours(db, workers)
            try:
                _log(f"real clients: {len(stores)} SyncClients x {sizes.real_events} events ...")
                real = real_clients_part(server, db, stores)
            finally:
                server.stop()
        finally:
            if scratch is not None:
                scratch.drop()
    results["server_posts_s_50"] = round(ours_50["posts_s"], 1)
    results["server_p99_ms_200"] = round(ours_200["p99_ms"], 2)
    results["server_vs_bare_asgi"] = round(ours_50["cpu_ms_per_post"] / bare_50["cpu_ms_per_post"], 3)
    results["server_real_clients_timeouts_200"] = real["timeouts"]
    results["server_db"] = kind
    results["server_workers"] = workers
    results["server_p50_ms_50"] = round(ours_50["p50_ms"], 2)
    results["server_p99_ms_50"] = round(ours_50["p99_ms"], 2)
    results["server_p50_ms_200"] = round(ours_200["p50_ms"], 2)
    results["server_posts_s_200"] = round(ours_200["posts_s"], 1)
    results["server_p99_ms_200_paced"] = round(paced_200["p99_ms"], 2)
    results["server_p50_ms_200_paced"] = round(paced_200["p50_ms"], 2)
    results["server_paced_rate"] = PACED_RATE
    results["server_cpu_ms_per_post"] = round(ours_50["cpu_ms_per_post"], 3)
    results["server_db_cpu_ms_per_post"] = round(ours_50["db_cpu_ms_per_post"], 3)
    results["server_load_cpu_ms_per_post"] = round(ours_50["load_cpu_ms_per_post"], 3)
    results["bare_db_cpu_ms_per_post"] = round(bare_50["db_cpu_ms_per_post"], 3)
    results["bare_cpu_ms_per_post"] = round(bare_50["cpu_ms_per_post"], 3)
    results["bare_posts_s_50"] = round(bare_50["posts_s"], 1)
    results["server_real_clients_events_s"] = round(real["events_s"], 1)
    results["server_real_clients_left"] = real["left"]
    results["server_timeout_samples"] = real["samples"]
    judged = sizes_name != "tiny"
    results["goals_met"] = {key: _met(results[key], *goal) for key, goal in GOALS.items()} if judged else {}
    results["all_goals_met"] = all(results["goals_met"].values()) if judged else None
    results["sizes"] = sizes_name
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def _met(value: float, op: str, goal: float) -> bool:
    return value >= goal if op == ">=" else value <= goal


def table(results: dict[str, Any]) -> str:
    lines = [f"server load benchmark ({results['server_db']}, {results['server_workers']} workers, {results['sizes']})"]
    for key, (op, goal) in GOALS.items():
        met = results["goals_met"].get(key)
        mark = "" if met is None else ("  ok" if met else "  MISSED")
        lines.append(f"  {key:36} {results[key]!s:>10}   goal {op} {goal}{mark}")
    for key in (
        "server_p50_ms_50",
        "server_p99_ms_50",
        "server_p50_ms_200",
        "server_posts_s_200",
        "server_p99_ms_200_paced",
        "server_p50_ms_200_paced",
        "server_cpu_ms_per_post",
        "server_db_cpu_ms_per_post",
        "server_load_cpu_ms_per_post",
        "bare_cpu_ms_per_post",
        "bare_db_cpu_ms_per_post",
        "bare_posts_s_50",
        "server_real_clients_events_s",
    ):
        lines.append(f"  {key:36} {results[key]!s:>10}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks server", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests per client (about a minute)")
    parser.add_argument("--sizes", choices=sorted(SERVER_SIZES), help="size mode (tiny: the smoke test's)")
    parser.add_argument("--db", default=None, help="postgresql://USER@HOST[:PORT]/DB (default: SQLite in a temp dir)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tmp", type=Path, help="folder for temporary files")
    args = parser.parse_args(argv)
    sizes_name = args.sizes or ("quick" if args.quick else "full")
    results = run_server_bench(sizes_name, args.db, args.workers, args.tmp)
    print(table(results), flush=True)
    print(json.dumps(results), flush=True)
    return 0
