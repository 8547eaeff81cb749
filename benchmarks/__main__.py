"""`python -m benchmarks [--quick] [--sizes tiny|quick|full]`: run all, print table + JSON line.

`python -m benchmarks server [--quick] [--db DSN]` runs the server load benchmark instead
(benchmarks/server.py)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import SIZES, build_session, load_bench_flow, write_flow
from benchmarks.report import GOALS, evaluate, json_line, table

_STARTED = time.perf_counter()


def _log(line: str) -> None:
    """A progress line on stderr, stamped with the seconds since start (where --quick's time goes)."""
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {line}", file=sys.stderr, flush=True)


def run(sizes_name: str, workdir: Path | None = None) -> dict[str, Any]:
    """Run every benchmark at the given sizes; returns the results (the JSON object)."""
    from benchmarks.chat_tests import measure_chat_tests
    from benchmarks.drain import measure_drain
    from benchmarks.resume import measure_resume
    from benchmarks.sessions import measure_sessions
    from benchmarks.step_commit import measure_snapshot_vs_incremental, measure_step_commit
    from benchmarks.tui_answer import measure_tui_answer

    sizes = SIZES[sizes_name]
    results: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="steadychat-bench-", dir=workdir) as name:
        tmp = Path(name)
        for sub in ("commit", "resume", "sessions", "drain", "chat", "tui"):
            (tmp / sub).mkdir()
        flow = load_bench_flow(tmp)

        _log(f"step commit: {sizes.commit_steps} real steps vs bare sqlite3 ...")
        results.update(measure_step_commit(sizes, tmp / "commit"))

        _log(f"resume: building sessions of {sizes.resume_small} and {sizes.resume_large} real steps ...")
        small = tmp / "resume" / "small.db"
        large = tmp / "resume" / "large.db"
        build_session(small, flow, sizes.resume_small)
        large_sid, _ = build_session(large, flow, sizes.resume_large, progress=_log)
        _log("resume: timing ...")
        results.update(measure_resume(sizes, (small, sizes.resume_small), (large, sizes.resume_large), flow.id))

        _log("snapshot vs incremental at the large session ...")
        results.update(measure_snapshot_vs_incremental(sizes, tmp / "resume", large, large_sid))

        _log(f"sessions: a store of {sizes.many_sessions} sessions: resume the latest, list the newest ...")
        results.update(measure_sessions(sizes, tmp / "sessions"))

        _log(f"drain: building a session with {sizes.drain_events} queued events ...")
        queued = tmp / "drain" / "queued.db"
        queued_sid, _ = build_session(queued, flow, 0, until_events=sizes.drain_events)
        _log("drain: ours vs bare httpx ...")
        results.update(measure_drain(sizes, tmp / "drain", queued, queued_sid))

        from benchmarks.drain_sessions import measure_drain_sessions

        _log("drain: many sessions of 53 events each, one store, to a server in another process ...")
        (tmp / "drain_many").mkdir()
        results.update(measure_drain_sessions(sizes, tmp / "drain_many", flow))

        _log("steadychat test: 100 cases of the bundled flows, in process ...")
        results.update(measure_chat_tests(tmp / "chat"))

        _log("tui answer: Enter → next input, ours vs a minimal Textual app ...")
        results.update(measure_tui_answer(sizes, tmp / "tui", write_flow(tmp / "tui")))

    from benchmarks.first_output import measure_first_output

    _log("play: process start to first output ...")
    results.update(measure_first_output(runs=1 if sizes_name == "tiny" else 5))

    judged = sizes_name != "tiny"
    results["goals_met"] = evaluate(results, judged)
    results["all_goals_met"] = all(results["goals_met"].values()) if judged else None
    results["sizes"] = sizes_name
    results["seconds"] = time.perf_counter() - started
    ordered = {key: results[key] for key, *_ in GOALS}
    ordered.update({k: v for k, v in results.items() if k not in ordered})
    return ordered


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["server"]:
        from benchmarks.server import main as server_main

        return server_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller repetitions, under two minutes")
    parser.add_argument("--sizes", choices=sorted(SIZES), help="size mode (tiny: the smoke test's)")
    parser.add_argument("--tmp", type=Path, help="folder for the temporary stores (default: system temp)")
    args = parser.parse_args(argv)
    sizes_name = args.sizes or ("quick" if args.quick else "full")
    results = run(sizes_name, args.tmp)
    print(table(results, sizes_name, sizes_name != "tiny"), flush=True)
    print(json_line(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
