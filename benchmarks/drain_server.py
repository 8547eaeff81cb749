"""The sync server in a child process, for the drain benchmarks.

A server on a thread of the benchmark's own process would share the client's GIL, so each side
would slow the other and the ratio would measure the mix. `ChildServer` runs
`python -m tui.server.run` on 127.0.0.1, port 0, with a fresh database, reads the URL from its
start-up line and stops it (terminate, then kill) on exit. Bounded: start-up waits at most 30 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

from benchmarks.common import TOKEN

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ChildServer:
    """`with ChildServer(db) as server: server.url` — a real sync server in another process."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ChildServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> ChildServer:
        args = ["--host", "127.0.0.1", "--port", "0", "--db", str(self.db), "--token", TOKEN]
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui.server.run", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._proc = proc
        found: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:  # keep reading so the pipe never fills
                match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
                if match and not found:
                    found.append(match.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(START_TIMEOUT_S) or not found:
            self.stop()
            raise RuntimeError("child sync server did not start")
        self.url = found[0]
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
