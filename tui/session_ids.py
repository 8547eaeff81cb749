"""Session ids by unique prefix: the one rule every command uses to read an id a user typed.

A full id (32 lowercase hex digits) is taken as is. A shorter one must be at least
`MIN_PREFIX` characters of hex and match exactly one known session; otherwise the user gets one
line saying whether it was too short, unknown or ambiguous (UsageError: exit 2).
"""

from __future__ import annotations

from collections.abc import Iterable

from tui.errors import UsageError

MIN_PREFIX = 4
FULL_LENGTH = 32
_HEX = frozenset("0123456789abcdef")


def normalise(text: str) -> str:
    """What the user typed, trimmed and lowercased; refused if it cannot start a session id."""
    prefix = text.strip().lower()
    if not prefix or not set(prefix) <= _HEX or len(prefix) > FULL_LENGTH:
        raise UsageError(
            f"{text!r} is not a session id: ids are 32 hex digits, and a prefix of {MIN_PREFIX} or more works"
        )
    if len(prefix) < MIN_PREFIX:
        raise UsageError(f"session id prefix {text!r} is too short: give at least {MIN_PREFIX} characters")
    return prefix


def pick(text: str, candidates: Iterable[str], where: str) -> str:
    """The one id among `candidates` that starts with `text` (normalised); `where` names the
    place searched (a store path, a server URL) in the error line."""
    prefix = normalise(text)
    matches = sorted({sid for sid in candidates if sid.startswith(prefix)})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no session {prefix} in {where}; see `steadychat sessions`")
    shown = ", ".join(sid[: max(8, len(prefix) + 2)] for sid in matches[:3])
    more = f" and {len(matches) - 3} more" if len(matches) > 3 else ""
    raise UsageError(
        f"session id prefix {prefix} is ambiguous in {where}: it matches {shown}{more}; give more characters"
    )
