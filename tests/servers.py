"""A real sync server process (`python -m tui.server.run`) that tests can SIGKILL and restart.

Shared by the integration and chaos suites; it keeps its port across restarts so a client's URL
stays valid.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class ServerProcess:
    """`python -m tui.server.run` as a child process; `kill()` sends SIGKILL."""

    LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")

    def __init__(self, db_path: Path | str, tokens: list[str], workers: int = 1, extra: tuple[str, ...] = ()) -> None:
        self.db_path = db_path
        self.extra = list(extra)
        self.tokens = list(tokens)
        self.workers = workers
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        args = [
            sys.executable,
            "-m",
            "tui.server.run",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            str(self.db_path),
        ]
        for token in self.tokens:
            args += ["--token", token]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        args += self.extra
        self.proc = subprocess.Popen(
            args,
            cwd=REPO,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group: kill() reaches every worker
        )
        found: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:  # ends when the process exits
                match = self.LISTENING.search(line)
                if match and not found:
                    found.append(match.group(2))
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(timeout) or not found:
            self.kill()
            raise RuntimeError("server process did not start")
        self.port = int(found[0])
        return self

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def terminate(self) -> int | None:
        """SIGTERM: uvicorn shuts down gracefully, then re-raises the signal (exit -15)."""
        return self._end(signal.SIGTERM)

    def _end(self, sig: int) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            if sig == signal.SIGKILL:
                os.killpg(proc.pid, sig)  # the parent and its workers, all at once
            else:
                proc.send_signal(sig)
        code = proc.wait(15)
        if self._reader is not None:
            self._reader.join(5)
        if proc.stderr is not None:
            proc.stderr.close()
        return code
