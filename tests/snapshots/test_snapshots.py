"""Pictures of the TUI at 100x30 with a fixed clock, fixed ids and no animation.

Update with `python -m pytest tests/snapshots --snapshot-update` and look at the report.
"""

from __future__ import annotations

from tui.app.messages import SyncLogged
from tui.app.testing import FakeNetwork, FakeSync
from tui.paths import bundled_flows_dir
from tui.sync.status import ConnState, SyncStatus

SIZE = (100, 30)
DEMO = bundled_flows_dir() / "demo.yaml"


def test_start_of_a_flow(snap_compare, make_app) -> None:
    assert snap_compare(make_app(DEMO), terminal_size=SIZE)


def test_choice_input(snap_compare, make_app, tmp_path) -> None:
    flow = tmp_path / "choice.yaml"
    flow.write_text(
        "name: Coffee order\n"
        "groups:\n"
        "  Start:\n"
        "    - say: What would you like?\n"
        "    - choice: [Espresso, Flat white, Filter coffee, Tea]\n"
        "      into: drink\n",
        encoding="utf-8",
    )
    assert snap_compare(make_app(flow), terminal_size=SIZE, press=["down"])


def test_validation_retry(snap_compare, make_app) -> None:
    app = make_app(DEMO)
    app.session.answer("Ada")
    app.session.answer("not-an-email")
    assert snap_compare(app, terminal_size=SIZE)


def test_offline_with_queued_steps(snap_compare, make_app) -> None:
    app = make_app(DEMO, sync=FakeSync, demo=FakeNetwork(), show_sync_log=True)
    app.session.answer("Ada")
    app.session.answer("ada@example.com")

    async def go_offline(pilot) -> None:
        app.post_message(SyncLogged("online"))
        app.post_message(SyncLogged("sent 5e550001 1..3"))
        app.post_message(SyncLogged("network cut (F2): answers queue locally"))
        app.post_message(SyncLogged("no connection: ConnectError; retry in 0.9s"))
        app.sync_status = SyncStatus(ConnState.OFFLINE, 8, retry_in=4, retry_at=1004.0)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=go_offline)


def test_sessions_screen(snap_compare, make_app) -> None:
    first = make_app(DEMO)
    sessions = first.settings.sessions
    first.session.answer("Ada")
    first.session.close()
    second = sessions.start(first.session.flow)
    for text in ("Grace", "grace@example.com", "36"):
        second.answer(text)
    assert snap_compare(make_app(session=second, sessions=sessions), terminal_size=SIZE, press=["ctrl+s"])


def test_rating_with_ten_typed(snap_compare, make_app, tmp_path) -> None:
    flow = tmp_path / "nps.yaml"
    flow.write_text(
        "name: Survey\n"
        "groups:\n"
        "  Start:\n"
        "    - say: How likely are you to recommend us?\n"
        "    - rating: nps\n"
        "      from: 0\n"
        "      length: 10\n"
        "      left: Not likely\n"
        "      right: Very likely\n",
        encoding="utf-8",
    )
    assert snap_compare(make_app(flow), terminal_size=SIZE, press=["1", "0"])
