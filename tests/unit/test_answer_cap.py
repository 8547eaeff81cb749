"""The answer size cap (flow `max_answer_bytes`, default 64 KiB): refused before anything is
committed, with the same words for a UI (`refusal`) and for `play` (`answer` raises)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.errors import AnswerError, FlowError
from tui.flow.model import DEFAULT_MAX_ANSWER_BYTES
from tui.flow.yaml_format import flow_from_text
from tui.session import Session
from tui.store import Store

FLOW = "name: Cap\n{cap}groups:\n  Ask:\n    - ask: word\n    - say: 'got {{{{word}}}}'\n    - ask: again\n"


def flow_with(cap: str = ""):
    return flow_from_text(FLOW.format(cap=cap), path="cap.yaml")


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.db") as opened:
        yield opened


def test_default_cap_is_64_kib_and_keeps_existing_flow_hashes() -> None:
    flow = flow_with()
    assert flow.max_answer_bytes == DEFAULT_MAX_ANSWER_BYTES == 65_536
    assert "max_answer_bytes" not in flow.canonical_json()
    assert "max_answer_bytes" in flow_with("max_answer_bytes: 10\n").canonical_json()


def test_over_the_cap_is_refused_and_nothing_is_committed(store: Store) -> None:
    session = Session.start(store, flow_with())
    before = store.last_seq(session.id)
    huge = "x" * (DEFAULT_MAX_ANSWER_BYTES + 1)
    assert session.refusal(huge) == (
        "The answer is too long (64.0 KiB; this flow accepts at most 64 KiB, its max_answer_bytes)."
    )
    with pytest.raises(AnswerError, match="nothing was saved for it"):
        session.answer(huge)
    assert store.last_seq(session.id) == before
    assert session.refusal("x" * DEFAULT_MAX_ANSWER_BYTES) is None  # exactly the cap is fine
    session.close()


def test_unpaired_surrogate_is_refused_not_a_crash(store: Store) -> None:
    session = Session.start(store, flow_with())
    before = store.last_seq(session.id)
    assert session.refusal("caf\udce9") is not None
    with pytest.raises(AnswerError, match="not valid text"):
        session.answer("caf\udce9")
    assert store.last_seq(session.id) == before
    session.close()


@pytest.mark.parametrize("value", ["0", "-1", "abc", "true", "600000", "1.5"])
def test_bad_cap_is_a_flow_error_with_its_line(value: str) -> None:
    with pytest.raises(FlowError) as info:
        flow_with(f"max_answer_bytes: {value}\n")
    assert info.value.line == 2 and info.value.reason.startswith("max_answer_bytes: expected a whole number")
