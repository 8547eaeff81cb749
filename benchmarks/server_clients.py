"""Real sync clients for the server benchmark: one process drains many stores at once.

`python -m benchmarks.server_clients URL TOKEN TIMEOUT STORE...` opens each store, runs the real
`SyncClient.drain` for all of them concurrently on one event loop (each client with its own
connection pool and the default timeouts: connect 2 s, read 5 s), and prints one JSON line:
`{"timeouts": N, "left": N, "samples": [...]}`. A timeout is a client log line saying a request
timed out (it then halves its batch or backs off and resends).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

TIMEOUT_WORDS = ("Timeout", "no answer within", "no complete answer within")


async def drain_all(url: str, token: str, timeout: float, stores: list[Path]) -> dict[str, object]:
    from tui.store import Store
    from tui.sync.client import SyncClient

    lines: list[str] = []
    opened = [Store.open(path) for path in stores]
    try:
        clients = [SyncClient(store, url, token, on_log=lines.append) for store in opened]
        left = await asyncio.gather(*(client.drain(timeout) for client in clients))
    finally:
        for store in opened:
            store.close()
    timeouts = [line for line in lines if any(word in line for word in TIMEOUT_WORDS)]
    return {"timeouts": len(timeouts), "left": sum(left), "samples": timeouts[:3]}


def main(argv: list[str]) -> None:
    url, token, timeout, *stores = argv
    result = asyncio.run(drain_all(url, token, float(timeout), [Path(s) for s in stores]))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
