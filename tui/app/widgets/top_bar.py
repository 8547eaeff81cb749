"""The top bar: app and flow name on the left, the connection indicator on the right.

A custom bar rather than `Header(show_clock=True)`: a clock would break snapshots.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

from tui.app.widgets.connection_indicator import ConnectionIndicator

APP_NAME = "SteadyChat"


def brand_is_redundant(title: str) -> bool:
    """Whether the title already starts with the app's name ("SteadyChat demo · …")."""
    return title.casefold().startswith(APP_NAME.casefold())


def title_text(title: str) -> Text:
    """The title with its first part (the flow's name) in bold; never parsed as markup."""
    name, sep, rest = title.partition(" · ")
    return Text.assemble((name, "bold"), sep + rest)


class TopBar(Horizontal):
    """One line: `SteadyChat › <flow> · <session>` and the connection indicator.

    The app's name is left out when the title already starts with it, so the demo flow
    ("SteadyChat demo") does not read "SteadyChat SteadyChat demo".
    """

    title: reactive[str] = reactive("", init=False)

    def __init__(self, title: str, *, monotonic: Callable[[], float], id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(TopBar.title, title)
        self._monotonic = monotonic

    def compose(self) -> ComposeResult:
        brand = Static(f"{APP_NAME} ›", id="app-name", markup=False)
        brand.display = not brand_is_redundant(self.title)
        yield brand
        yield Static(title_text(self.title), id="flow-title", markup=False)
        yield ConnectionIndicator(monotonic=self._monotonic, id="indicator")  # it follows the app's status

    def watch_title(self, title: str) -> None:
        self.query_one("#flow-title", Static).update(title_text(title))
        self.query_one("#app-name", Static).display = not brand_is_redundant(title)
