"""Build hook: a wheel carries the repository's `flows/` as the package data `tui/flows/`.

`flows/` is the single source of the bundled flows: authors edit it, the docs and tests name it,
and `steadychat test flows` runs the `*.chat.yaml` beside them. A wheel has no repository around
it, so the build copies the flows (not their tests) into the package, where
`tui.paths.bundled_flows_dir()` finds them with importlib.resources. Everything else about the
package is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

FLOWS = Path(__file__).resolve().parent / "flows"


def bundled_flow_files() -> list[Path]:
    """The flows and their schemas, without flow tests, goldens or examples in subfolders."""
    return sorted(
        path
        for path in FLOWS.iterdir()
        if path.is_file() and path.suffix in (".yaml", ".json") and not path.name.endswith(".chat.yaml")
    )


class BuildPyWithFlows(build_py):
    """build_py, then the flows into `tui/flows/` (an editable install reads `flows/` directly)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "tui" / "flows"
        self.mkpath(str(target))
        for source in bundled_flow_files():
            self.copy_file(str(source), str(target / source.name))


if __name__ == "__main__":  # how pip's build backend runs this file; a test imports it under another name
    setup(cmdclass={"build_py": BuildPyWithFlows})
