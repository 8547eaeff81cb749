"""The command palette's SteadyChat commands: the same actions as the keys."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, action, demo only)
COMMANDS: tuple[tuple[str, str, str, bool], ...] = (
    ("Sessions", "List sessions; resume, start or export one (ctrl+s)", "sessions", False),
    ("New session", "Start this flow again in a new session (ctrl+n)", "new_session", False),
    ("Export transcript", "Save this conversation as Markdown next to the store (ctrl+o)", "export", False),
    ("Sync now", "Send queued events to the server now (ctrl+r)", "sync_now", False),
    ("Toggle sync log", "Show or hide the sync log (F4)", "toggle_sync_log", False),
    ("Toggle network (demo)", "Cut or restore the demo's network (F2)", "toggle_network", True),
    ("Flaky network (demo)", "Make the demo's network flaky, or steady again (F3)", "toggle_flaky", True),
)


class SteadyChatCommands(Provider):
    """Sessions, new session, export, sync now and the demo's network switches."""

    def _available(self) -> Iterator[tuple[str, str, str]]:
        app: Any = self.app
        for title, help_text, action, _demo in COMMANDS:
            if app.check_action(action, ()) is True:
                yield title, help_text, action

    async def discover(self) -> Hits:
        for title, help_text, action in self._available():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._available():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text)
