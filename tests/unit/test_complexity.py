"""No function in the package above radon grade C (cyclomatic complexity > 20): the one check that
keeps issue 16's "nothing above grade C" true as the code grows."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_rank, cc_visit

PACKAGE = Path(__file__).resolve().parents[2] / "tui"


def test_every_function_is_grade_c_or_better() -> None:
    too_complex = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if cc_rank(block.complexity) > "C":
                where = f"{path.relative_to(PACKAGE.parent)}:{block.lineno}"
                too_complex.append(f"{where} {block.fullname} grade {cc_rank(block.complexity)}")
    assert not too_complex, "split these into smaller functions:\n" + "\n".join(too_complex)
