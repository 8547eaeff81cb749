"""The table and the JSON line: each contract key with its goal, and the context numbers.

Goals come from DESIGN.md's Benchmarks section. The absolute goals (ms, s) are for a quiet
machine; the ratio goals compare against a baseline measured in the same run, so they hold on a
noisy one too. In the `tiny` size mode the keys are present but the sizes are far below the
contract's (10,000 steps / events), so the goals are shown, not judged.
"""

from __future__ import annotations

import json
import math
from typing import Any

# key, comparison, goal, unit
GOALS: list[tuple[str, str, float, str]] = [
    ("step_commit_p50_ms", "<=", 1.0, "ms"),
    ("step_commit_vs_sqlite_floor", "<=", 1.3, "x"),
    ("answer_total_ms_p50", "<=", 0.3, "ms"),
    ("snapshot_vs_incremental_10k", ">=", 100.0, "x"),
    ("resume_10k_ms", "<=", 300.0, "ms"),
    ("resume_growth_100_to_10k", "<=", 2.0, "x"),
    ("resume_latest_10k_sessions_ms", "<=", 20.0, "ms"),
    ("sessions_page_10k_ms", "<=", 50.0, "ms"),
    ("drain_10k_events_s", "<=", 3.0, "s"),
    ("drain_vs_raw_post", "<=", 1.5, "x"),
    ("drain_1k_sessions_s", "<=", 2.0, "s"),
    ("chat_test_100_cases_s", "<=", 5.0, "s"),
    ("tui_answer_vs_textual_floor", "<=", 2.0, "x"),
    ("play_first_output_ms", "<=", 250.0, "ms"),
]

# Context rows: key, label, unit
CONTEXT: list[tuple[str, str, str]] = [
    ("step_commit_p99_ms", "step commit p99", "ms"),
    ("sqlite_floor_p50_ms", "bare sqlite3 floor p50 (same pre-encoded rows, one multi-row INSERT)", "ms"),
    ("sqlite_floor_p99_ms", "bare sqlite3 floor p99", "ms"),
    ("incremental_step_at_10k_ms", "our commit at the large session, p50", "ms"),
    ("naive_snapshot_step_at_10k_ms", "naive JSON-snapshot step at the large session, p50", "ms"),
    ("naive_snapshot_mib", "naive snapshot size", "MiB"),
    ("resume_100_ms", "resume, small session", "ms"),
    ("resume_10k_peak_mib", "resume, large session: tracemalloc peak", "MiB"),
    ("drain_raw_post_s", "bare httpx POSTs of the same bodies", "s"),
    ("drain_10k_peak_mib", "drain: tracemalloc peak (client only)", "MiB"),
    ("drain_1k_sessions_events", "drain_1k_sessions: events delivered (server in another process)", ""),
    ("chat_test_100_cases_cpu_s", "steadychat test, 100 cases: CPU time (stable under load)", "s"),
    ("chat_test_floor_s", "the same 100 conversations through bare Session calls", "s"),
    ("chat_test_vs_session_floor", "steadychat test / that floor", "x"),
    ("tui_answer_ms_p50", "TUI answer: Enter → next input focused, CPU p50", "ms"),
    ("tui_floor_answer_ms_p50", "minimal Textual app: Enter → input cleared, CPU p50", "ms"),
    ("python_start_ms", "`python -c`: the interpreter's own start to first output, same run", "ms"),
    ("play_first_output_over_python_ms", "`play` first output minus the interpreter's start", "ms"),
    ("answer_total_ms_p99", "a whole answer (engine + commit), p99", "ms"),
    ("many_sessions", "sessions in the store for the two keys above", ""),
]


def met(value: Any, op: str, goal: float) -> bool:
    if not isinstance(value, (int, float)) or math.isnan(value):
        return False
    return value <= goal if op == "<=" else value >= goal


def _fmt(value: Any, unit: str = "") -> str:
    if isinstance(value, float):
        text = f"{value:.1f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    else:
        text = str(value)
    return f"{text} {unit}".rstrip()


def evaluate(results: dict[str, Any], judged: bool) -> dict[str, bool]:
    return {key: met(results.get(key), op, goal) for key, op, goal, _ in GOALS} if judged else {}


def table(results: dict[str, Any], sizes_name: str, judged: bool) -> str:
    rows = [("metric", "value", "goal", "ok?")]
    for key, op, goal, unit in GOALS:
        value = results.get(key)
        ok = ("yes" if met(value, op, goal) else "NO") if judged else "n/a"
        rows.append((key, _fmt(value, unit), f"{op} {_fmt(goal, unit)}", ok))
    rows.append(("", "", "", ""))
    for key, label, unit in CONTEXT:
        if key in results:
            rows.append((label, _fmt(results[key], unit), "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"SteadyChat benchmarks (sizes: {sizes_name})"]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def json_line(results: dict[str, Any]) -> str:
    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return None if math.isnan(value) or math.isinf(value) else round(value, 4)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return json.dumps(clean(results), sort_keys=False, separators=(", ", ": "))
