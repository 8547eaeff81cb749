"""`steadychat test` speed: 100 cases of the bundled flows, in this process, as the command runs them.

The cases are the bundled flows' own `*.chat.yaml` cases, repeated to 100 in one test file beside
copies of the flows. The floor is the same conversations driven through bare `Session.start` and
`Session.answer` on one store: what any runner must pay; the rest is reading the file, the
transcript, the comparison and the report.
"""

from __future__ import annotations

import io
import shutil
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import yaml

from tui.chattest.cases import load_cases
from tui.chattest.command import run_chat_tests
from tui.chattest.runner import SEED, fixed_clock
from tui.flow.loader import load_flow
from tui.session import Session
from tui.store import Store

FLOWS = Path(__file__).resolve().parents[1] / "flows"
CASES = 100


def _write_suite(folder: Path) -> Path:
    """One test file with CASES cases cycled from the bundled flows' own, beside copies of the flows."""
    raw: list[dict[str, Any]] = []
    for chat in sorted(FLOWS.rglob("*.chat.yaml")):
        target = folder / chat.parent.relative_to(FLOWS)
        target.mkdir(parents=True, exist_ok=True)
        for case, entry in zip(load_cases(chat), yaml.safe_load(chat.read_text(encoding="utf-8")), strict=True):
            shutil.copy(case.flow, target / case.flow.name)
            entry["flow"] = (target / case.flow.name).relative_to(folder).as_posix()
            entry.pop("golden", None)
            entry["transcript"] = "".join(line + "\n" for line in (case.expected_lines() or []))
            raw.append(entry)
    cases = [dict(entry, name=f"{n}: {entry.get('name', '')}") for n, entry in enumerate(islice(cycle(raw), CASES))]
    path = folder / "bench.chat.yaml"
    path.write_text(yaml.safe_dump(cases, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _floor(path: Path, workdir: Path) -> float:
    """The same conversations through bare Session calls on one store."""
    cases = load_cases(path)
    flows = {case.flow: load_flow(case.flow) for case in cases}
    store = Store.open(workdir / "floor.db")
    try:
        started = time.perf_counter()
        for n, case in enumerate(cases):
            session = Session.start(store, flows[case.flow], clock=fixed_clock, seed=SEED, session_id=f"{n:032x}")
            for answer in case.answers:
                if session.status != "active":
                    break
                session.answer(answer)
            session.events()
            session.close()
        return time.perf_counter() - started
    finally:
        store.close()


def measure_chat_tests(workdir: Path) -> dict[str, Any]:
    suite = _write_suite(workdir)
    out, err = io.StringIO(), io.StringIO()
    started, cpu_started = time.perf_counter(), time.process_time()
    code = run_chat_tests([suite], update=False, junit=None, out=out, err=err)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if code != 0:
        raise RuntimeError(f"chat test benchmark: exit {code}\n{out.getvalue()}{err.getvalue()}")
    floor = _floor(suite, workdir)
    return {
        "chat_test_100_cases_s": seconds,
        "chat_test_100_cases_cpu_s": cpu_seconds,
        "chat_test_floor_s": floor,
        "chat_test_vs_session_floor": seconds / floor if floor else float("nan"),
    }


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="steadychat-bench-") as name:
        print(json.dumps(measure_chat_tests(Path(name))))
