"""The transcript: an anchored VerticalScroll of bubbles, loaded lazily page by page.

Opening a session mounts only its latest page of events; scrolling to the top loads the page
before it, so a 10,000-step session opens as fast as a 10-step one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.layouts.vertical import VerticalLayout
from textual.widget import Widget
from textual.widgets import Static

from tui.app.widgets.bubble import UserBubble, bubble_for
from tui.steps import StoredEvent

PAGE_SIZE = 50
MAX_MOUNTED = 60
"""Bubbles kept mounted while the user follows the conversation; older ones are unmounted in
batches of PRUNE_BATCH and come back like any earlier page (scroll up or Home). Laying out a
screen costs in proportion to its widgets, so an answer costs the same at step 10 and 10,000."""
PRUNE_BATCH = 20
CHAT_WIDTH = 112
"""Widest column the bubbles use (85% of it: ~95 columns); a wider terminal centres it."""

PageSource = Callable[[int, int], list[StoredEvent]]  # (before_seq, limit) -> ascending events


if TYPE_CHECKING:
    from textual.layout import ArrangeResult, Layout


class TranscriptLayout(VerticalLayout):
    """The vertical layout, with each `UserBubble` against the right edge.

    What a right-aligned row container around each user bubble would give (the same regions),
    without a container per answer: every layout pass arranges every mounted bubble, and a
    container costs a nested arrangement of its own.
    """

    def arrange(self, parent: Widget, children: list[Widget], size: Size, greedy: bool = True) -> ArrangeResult:
        placements = super().arrange(parent, children, size, greedy)
        width = size.width
        for index, placement in enumerate(placements):
            if isinstance(placement.widget, UserBubble):
                region, margin = placement.region, placement.margin
                # Right-aligned as a container would align it: its margins count, never off the left edge.
                shift = max(0, width - (margin.left + region.width + margin.right))
                if shift:
                    placements[index] = placement._replace(region=region._replace(x=margin.left + shift))
        return placements


TRANSCRIPT_LAYOUT = TranscriptLayout()


class EarlierMarker(Static):
    """The top line while earlier pages are not loaded yet."""


class Transcript(VerticalScroll, can_focus=True):
    """Bubbles of committed events, newest at the bottom; earlier pages load on reaching the top."""

    BINDINGS = [
        Binding("home", "load_earlier", "Earlier", id="load_earlier", tooltip="Load earlier messages"),
    ]

    def __init__(self, *, page_size: int = PAGE_SIZE, id: str | None = None) -> None:
        super().__init__(id=id)
        self.page_size = page_size
        self._source: PageSource | None = None
        self.first_seq = 1  # lowest seq loaded
        self.last_seq = 0  # highest seq shown
        self._loading = False

    def on_resize(self, event: events.Resize) -> None:
        """Keep bubbles readable on a wide terminal: the conversation is a centred column."""
        side = 1 + max(0, event.size.width - CHAT_WIDTH) // 2
        if self.styles.padding.left != side:
            self.styles.padding = (1, side, 0, side)

    @property
    def layout(self) -> Layout:
        """Always the transcript's own layout (user bubbles right-aligned, see `TranscriptLayout`)."""
        return TRANSCRIPT_LAYOUT

    @property
    def has_earlier(self) -> bool:
        return self.first_seq > 1

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "load_earlier":
            return self.has_earlier  # hidden from the footer once everything is loaded
        return True

    async def show(self, source: PageSource, last_seq: int) -> None:
        """Show a session: its latest page now, earlier pages on demand."""
        self._source = source
        await self.remove_children()
        page = source(last_seq + 1, self.page_size)
        self.first_seq = page[0].seq if page else 1
        self.last_seq = page[-1].seq if page else 0
        widgets = self._widgets(page)
        # A page without any shown event (variables only) would leave an empty view.
        while not widgets and self.has_earlier:
            older = source(self.first_seq, self.page_size)
            if not older:
                break
            self.first_seq = older[0].seq
            widgets = self._widgets(older)
        if self.has_earlier:
            widgets.insert(0, self._marker())
        await self.mount_all(widgets)
        self.anchor()
        self.refresh_bindings()

    def add_events(self, events: Iterable[StoredEvent]) -> list[Widget]:
        """Append just-committed events; returns the widgets mounted."""
        fresh = [e for e in events if e.seq > self.last_seq]
        if not fresh:
            return []
        self.last_seq = fresh[-1].seq
        widgets = self._widgets(fresh)
        if widgets:
            self.mount_all(widgets)
            if not self.is_anchored:
                self.anchor()
            self._prune()
        return widgets

    def _prune(self) -> None:
        """Unmount the oldest bubbles once too many are mounted (only while following the end)."""
        if self._loading or self._source is None:
            return
        shown = [child for child in self.children if not isinstance(child, EarlierMarker)]
        if len(shown) <= MAX_MOUNTED + PRUNE_BATCH or not self.is_vertical_scroll_end:
            return
        old, kept = shown[: len(shown) - MAX_MOUNTED], shown[len(shown) - MAX_MOUNTED :]
        first = getattr(kept[0], "seq", None)
        if not isinstance(first, int):
            return
        self.remove_children(old)
        self.first_seq = first
        if not any(isinstance(child, EarlierMarker) for child in self.children):
            self.mount(self._marker(), before=kept[0])
        self.refresh_bindings()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 and old > 0 and self.has_earlier:
            self.call_after_refresh(self.action_load_earlier)

    async def action_load_earlier(self) -> None:
        """Mount the page before the first loaded event, keeping the view where it was."""
        if self._loading or not self.has_earlier or self._source is None:
            return
        self._loading = True
        try:
            widgets: list[Widget] = []
            while not widgets and self.has_earlier:
                page = self._source(self.first_seq, self.page_size)
                if not page:
                    self.first_seq = 1
                    break
                self.first_seq = page[0].seq
                widgets = self._widgets(page)
            markers = list(self.query_children(EarlierMarker))
            old_height = self.virtual_size.height
            old_y = self.scroll_y
            if widgets:
                anchor_at = markers[0] if markers else None
                if anchor_at is not None:
                    await self.mount_all(widgets, after=anchor_at)
                else:
                    await self.mount_all(widgets, before=0)
            if not self.has_earlier:
                for marker in markers:
                    await marker.remove()
            self.release_anchor()
            self.call_after_refresh(self._keep_place, old_height, old_y)
        finally:
            self._loading = False
            self.refresh_bindings()

    def _keep_place(self, old_height: int, old_y: float) -> None:
        grown = self.virtual_size.height - old_height
        self.scroll_to(y=old_y + max(0, grown), animate=False, immediate=True)

    def _widgets(self, events: Iterable[StoredEvent]) -> list[Widget]:
        return [w for w in (bubble_for(e) for e in events) if w is not None]

    def _marker(self) -> EarlierMarker:
        return EarlierMarker("↑ earlier messages: scroll up or press Home to load them")
