"""The core never loads Textual: headless play, the server and sync stay UI-free."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "tui.engine",
    "tui.store",
    "tui.session",
    "tui.headless",
    "tui.cli",
    "tui.flow.loader",
    "tui.sync.client",
    "tui.sync.background",
    "tui.server.app",
    "tui.server.run",
    "tui.faultproxy",
    "tui.chattest.command",
]


def test_core_modules_do_not_import_textual() -> None:
    code = "import sys\n" + "".join(f"import {m}\n" for m in CORE) + "print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_store_is_the_only_module_that_imports_sqlitedict() -> None:
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "tui"
    users = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py") if "sqlitedict" in p.read_text())
    assert users == ["store.py"]
