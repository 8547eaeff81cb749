"""Bugs found by using the TUI in a real terminal, one pilot test each."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from textual.widgets import Button, Input, OptionList, SelectionList, Static, TextArea

from tests.tui.helpers import answer_area, bubble_texts, static_text, transcript, wait_for
from tui.app.widgets.rating_row import RatingRow
from tui.app.widgets.sync_log import SyncLog
from tui.app.widgets.top_bar import TopBar
from tui.paths import bundled_flows_dir

ROOT = Path(__file__).resolve().parents[2]


def footer_keys(app) -> set[str]:
    """The actions the footer shows right now."""
    return {binding.action for (_, binding, enabled, _) in app.screen.active_bindings.values() if enabled}


async def test_top_bar_does_not_repeat_the_app_name(make_app, flow_file) -> None:
    # The demo flow is called "SteadyChat demo": the bar read "SteadyChat SteadyChat demo".
    demo = make_app(bundled_flows_dir() / "demo.yaml")
    async with demo.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        bar = demo.chat.query_one(TopBar)
        assert not bar.query_one("#app-name").display
        assert static_text(bar.query_one("#flow-title", Static)).startswith("SteadyChat demo · session")


async def test_top_bar_names_the_app_before_another_flow(make_app, flow_file) -> None:
    other = make_app(
        flow_file("""
        name: Support
        groups:
          Start:
            - ask: name
    """)
    )
    async with other.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        bar = other.chat.query_one(TopBar)
        assert bar.query_one("#app-name").display
        assert static_text(bar.query_one("#app-name", Static)) == "SteadyChat ›"


async def test_engine_refusal_keeps_the_typed_answer(make_app, flow_file) -> None:
    # The flow's own rule refuses "notaurl" before anything is sent: its retry message shows
    # inline, the typed text stays, nothing is recorded.
    app = make_app(
        flow_file("""
        name: U
        groups:
          Start:
            - ask: site
              type: url
              retry: That is not a web address.
            - say: ok
    """)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        before = app.session.last_seq
        await pilot.press(*"notaurl", "enter")
        await wait_for(pilot, lambda: answer_area(app).query_one("#answer-error").display)
        assert "That is not a web address." in str(answer_area(app).query_one("#answer-error").render())
        assert isinstance(app.focused, Input) and app.focused.value == "notaurl"
        assert app.session.last_seq == before, "a refusal checked before sending records nothing"
        # the kept text is edited in place, not replaced by the next key (no select-on-focus)
        await pilot.press("home", *"https://", "end", *".org", "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")
        answers = [e.data["text"] for e in app.session.events() if e.type == "answer"]
        assert answers == ["https://notaurl.org"]


async def test_resume_after_refusal_puts_the_answer_back(make_app, flow_file) -> None:
    path = flow_file("""
        name: Mail
        groups:
          Start:
            - ask: email
            - say: ok
    """)
    first = make_app(path)
    async with first.run_test(size=(100, 30)):
        first.session.answer("ada@")
    first.session.close()
    second = make_app(session=first.settings.sessions.resume(first.session.id))
    async with second.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(second.focused, Input))
        assert second.focused.value == "ada@"


async def test_multiple_choice_digits_toggle(make_app, flow_file) -> None:
    # The options are numbered "1. Tea" but a digit did nothing.
    app = make_app(
        flow_file("""
        name: M
        groups:
          Start:
            - choice: [Tea, Coffee, Water]
              into: drinks
              multiple: true
            - say: "{{drinks}}"
    """)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.focused, SelectionList))
        await pilot.press("1", "3", "3", "3", "ctrl+j")
        await wait_for(pilot, lambda: app.session.status == "completed")
        assert "Tea, Water" in bubble_texts(app)


async def test_long_text_shows_its_placeholder(make_app, flow_file) -> None:
    app = make_app(
        flow_file("""
        name: L
        groups:
          Start:
            - ask: story
              long: true
              placeholder: What happened?
    """)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.focused, TextArea))
        assert str(app.focused.placeholder) == "What happened?"


async def test_rating_row_fits_80_columns(make_app, flow_file) -> None:
    # 0..10 with both labels was cut at 80 columns ("Very likel").
    app = make_app(
        flow_file("""
        name: NPS
        groups:
          Start:
            - rating: nps
              from: 0
              length: 10
              left: Very unlikely
              right: Very likely
    """)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        row = answer_area(app).query_one(RatingRow)
        assert [str(b.label) for b in row.query(Button)][-1] == "10"
        right_edge = app.screen.region.right
        for widget in row.children:
            assert widget.region.right <= right_edge, widget
        assert static_text(row.query(".rating-label").last(Static)) == "Very likely"


async def test_a_very_long_rating_scale_shows_its_range_not_a_million_buttons(make_app, flow_file) -> None:
    # `length: 1000000` mounted a button per value: the app hung building them.
    app = make_app(
        flow_file("""
        name: Huge
        groups:
          Start:
            - rating: score
              from: 1
              length: 1000000
            - say: "Got {{score}}"
    """)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.focused, RatingRow))
        row = answer_area(app).query_one(RatingRow)
        assert len(row.query(Button)) == 0
        line = row.query_one(".rating-range", Static)
        assert static_text(line) == "1 … 1000000"
        await pilot.press("4", "2", "right")
        assert static_text(line) == "43   (1 … 1000000)"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Got 43" in bubble_texts(app))


async def test_picture_choices_keep_one_short_line_per_picture(make_app, store) -> None:
    # Picture choices showed their whole unsplash URL, wrapped over three lines each.
    from tui.flow.loader import load_flow

    flow = load_flow(Path(__file__).parent / "data" / "picture_choice.json")
    app = make_app(flow)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.focused, OptionList))
        options = app.focused
        prompt = options.get_option_at_index(0).prompt
        lines = str(prompt).splitlines()
        assert lines[0] == "1. Running"
        assert len(lines) == 2 and lines[1].strip().startswith("↗ images.example.com/photo-1")
        assert len(lines[1]) < 80 and "?" not in lines[1]
        await pilot.press("2")
        await wait_for(pilot, lambda: "Cycling" in bubble_texts(app))


async def test_file_input_hides_typebot_html_placeholder(make_app) -> None:
    from tui.flow.loader import load_flow

    app = make_app(load_flow(Path(__file__).parent / "data" / "file_upload.json"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        assert app.focused.placeholder == "Paste a file URL…"


async def test_earlier_key_only_when_there_is_something_earlier(make_app, flow_file) -> None:
    app = make_app(
        flow_file("""
        name: E
        groups:
          Start:
            - say: hi
            - ask: name
            - say: bye
    """)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"Ada", "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")
        transcript(app).focus()
        await pilot.pause()
        assert not transcript(app).has_earlier
        assert "load_earlier" not in footer_keys(app)


async def test_sync_log_leaves_room_for_the_chat_at_80_columns(make_app, flow_file) -> None:
    from tui.app.testing import FakeNetwork, FakeSync

    app = make_app(bundled_flows_dir() / "demo.yaml", sync=FakeSync, demo=FakeNetwork(), show_sync_log=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log = app.chat.query_one(SyncLog)
        assert log.display and log.region.width <= 31
        assert app.chat.query_one("#conversation").region.width >= 49


def test_png_screenshots_use_a_monospace_font() -> None:
    # cairosvg takes only "Fira Code" from "Fira Code, monospace" and falls back to a
    # proportional font: runs of text shrank and bold words looked followed by gaps.
    spec = importlib.util.spec_from_file_location("screenshots_script", ROOT / "scripts" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("screenshots_script", module)
    spec.loader.exec_module(module)
    svg = (ROOT / "screenshots" / "start.svg").read_text(encoding="utf-8")
    assert "font-family: Fira Code, monospace;" in svg  # browsers still get Fira Code
    converted = module.for_cairosvg(svg)
    assert "Fira Code, monospace" not in converted
    assert "font-family: monospace;" in converted


async def test_f2_toasts_only_when_the_sync_log_is_hidden(make_app) -> None:
    # With the log open, F2 gave a toast that repeated the log and stacked on "Back online".
    from tui.app.testing import FakeNetwork, FakeSync

    app = make_app(bundled_flows_dir() / "demo.yaml", sync=FakeSync, demo=FakeNetwork(), show_sync_log=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        await wait_for(pilot, lambda: any("network cut" in line for line in app.sync_log.lines))
        assert not app._notifications
        await pilot.press("f4", "f2")
        await wait_for(pilot, lambda: any("network restored" in n.message for n in app._notifications))


def test_media_url_shown_once() -> None:
    # lead-gen.json's image showed its long URL twice: as the link and again as "[image: URL]".
    from tui.app.widgets.bubble import MediaBubble, bubble_for
    from tui.steps import StoredEvent

    url = "https://media2.giphy.com/media/XD9o33QG9BoMis7iM4/giphy.gif?cid=fe38&ct=g"
    event = StoredEvent(
        seq=3, type="message", ts="2026-01-01T12:00:00.000Z",
        data={"kind": "image", "text": f"[image: {url}]", "url": url},
    )  # fmt: skip
    bubble = bubble_for(event)
    assert isinstance(bubble, MediaBubble)
    shown = str(bubble.content)
    assert shown.count(url) == 1
    captioned = bubble_for(StoredEvent(
        seq=4, type="message", ts="2026-01-01T12:00:00.000Z",
        data={"kind": "image", "text": "Our office", "url": url},
    ))  # fmt: skip
    assert isinstance(captioned, MediaBubble)
    assert "Our office" in str(captioned.content)


async def test_demo_footer_fits_80_columns(make_app) -> None:
    from textual.widgets import Footer

    from tui.app.testing import FakeNetwork, FakeSync

    app = make_app(bundled_flows_dir() / "demo.yaml", sync=FakeSync, demo=FakeNetwork(), show_sync_log=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = app.chat.query_one(Footer)
        keys = [key for key in footer.query("FooterKey") if key.display]
        assert {"f2", "f3", "f4"} <= {key.key for key in keys}
        assert max(key.region.right for key in keys) <= 80  # nothing cut ("f4 S▏")
        assert footer.virtual_size.width <= footer.size.width


async def test_bubbles_keep_a_readable_width_on_a_wide_terminal(make_app, flow_file) -> None:
    long = " ".join(["word"] * 80)
    app = make_app(
        flow_file(f"""
        name: Wide
        groups:
          A:
            - say: {long}
            - ask: name
            - say: ok
    """)
    )
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.press(*long[:150], "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")
        await pilot.pause()
        bubbles = list(transcript(app).query("BotBubble, UserBubble"))
        assert len(bubbles) >= 3
        assert all(bubble.region.width <= 100 for bubble in bubbles)
    app.session.close()
    narrow = make_app(flow_file(f"name: Narrow\ngroups:\n  A:\n    - say: {long}\n    - ask: x\n"))
    async with narrow.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bubble = transcript(narrow).query_one("BotBubble")
        assert bubble.region.width <= 80 * 0.85 and bubble.region.right <= 80  # wrapped, not cut


async def test_sync_log_keeps_following_the_newest_line(make_app, flow_file) -> None:
    from tui.app.testing import FakeSync

    app = make_app(flow_file("name: L\ngroups:\n  A:\n    - ask: x\n"), sync=FakeSync, show_sync_log=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        log = app.chat.query_one(SyncLog)
        for round_ in range(3):
            for n in range(40):  # a burst: many lines before the log lays out again
                app._log_from_client(f"sent batch {round_}.{n}")
            await wait_for(pilot, lambda round_=round_: f"sent batch {round_}.39" in "".join(app.sync_log.lines[-1:]))
            await pilot.pause()
            await wait_for(pilot, lambda: log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y)
        # lines that arrive while the log is hidden (F4) are followed once it is shown again
        await pilot.press("f4")
        await wait_for(pilot, lambda: not log.display)
        for n in range(60):
            app._log_from_client(f"while hidden {n}")
        await wait_for(pilot, lambda: "while hidden 59" in "".join(app.sync_log.lines[-1:]))
        await pilot.press("f4")
        app._log_from_client("after showing it again")
        await wait_for(pilot, lambda: "after showing" in "".join(app.sync_log.lines[-1:]))
        await pilot.pause()
        await wait_for(pilot, lambda: log.display and log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y)
