"""`play --server` and `steadychat sync` against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tui.steps import as_json_data
from tui.store import Store

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "STEADYCHAT_SERVER": "", "STEADYCHAT_TOKEN": ""},
    )


def server_events(url: str, token: str, sid: str) -> list[dict]:
    response = httpx.get(
        f"{url}/v1/sessions/{sid}/events",
        params={"after": 0, "limit": 500},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    return response.json()["events"]


def client_events(store_path: Path, sid: str) -> list[dict]:
    with Store.open(store_path) as store:
        return [as_json_data(e) for e in store.events(sid)]


def test_play_syncs_in_the_background(tmp_path: Path, live_server, token_a: str) -> None:
    store = tmp_path / "s.db"
    result = run(
        "play",
        "flows/support.yaml",
        "--store",
        str(store),
        "--server",
        live_server.url,
        "--token",
        token_a,
        stdin="Billing\nAn invoice\n",
    )
    assert result.returncode == 0, result.stderr
    assert "sync: online" in result.stderr or "sync: syncing" in result.stderr
    (session,) = json.loads(run("sessions", "--json", "--store", str(store)).stdout)
    assert session["queued"] == 0
    assert server_events(live_server.url, token_a, session["id"]) == client_events(store, session["id"])


def test_offline_play_queues_then_sync_delivers_exactly(tmp_path: Path, live_server, token_a: str) -> None:
    store = tmp_path / "s.db"
    url = live_server.url
    live_server.stop()
    result = run(
        "play",
        "flows/support.yaml",
        "--store",
        str(store),
        "--server",
        url,
        "--token",
        token_a,
        stdin="Billing\nAn invoice\n",
    )
    assert result.returncode == 0
    assert "offline" in result.stderr and "queued" in result.stderr
    (session,) = json.loads(run("sessions", "--json", "--store", str(store)).stdout)
    assert session["queued"] == session["last_seq"] > 0
    failed = run("sync", "--store", str(store), "--server", url, "--token", token_a, "--timeout", "1")
    assert failed.returncode == 1 and f"{session['last_seq']} events still queued" in failed.stderr
    live_server.start()
    synced = run("sync", "--store", str(store), "--server", url, "--token", token_a, "--timeout", "20")
    assert synced.returncode == 0, synced.stderr
    assert server_events(url, token_a, session["id"]) == client_events(store, session["id"])


def test_sync_needs_a_server(tmp_path: Path) -> None:
    result = run("sync", "--store", str(tmp_path / "s.db"))
    assert result.returncode == 2 and "--server" in result.stderr
