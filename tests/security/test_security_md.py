"""SECURITY.md names the test behind every control: every test it names must exist, so a
renamed or deleted test cannot leave a claim without its proof."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# "security/test_csrf.py", "proxy/auth/test_sessions.py", "e2e/test_faults.py::test_x", and
# "::test_y": a test of the file named last before it in the same table cell
REF = re.compile(r"(?P<file>\b[a-z0-9_]+(?:/[a-z0-9_]+)*/test_[a-z0-9_]+\.py)"
                 r"|::(?P<name>test_[A-Za-z0-9_]+)")


def references() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    text = (ROOT / "SECURITY.md").read_text()
    for line in text.splitlines():
        for cell in line.split("|"):
            current: str | None = None
            for m in REF.finditer(cell):
                if m.group("file"):
                    current = m.group("file")
                    out.append((current, None))
                elif current is not None:
                    out.append((current, m.group("name")))
                else:
                    raise AssertionError(f"'::{m.group('name')}' names no file: {cell}")
    return out


def test_security_md_names_tests_that_exist() -> None:
    refs = references()
    assert len({f for f, _ in refs}) >= 20 and sum(1 for _, n in refs if n) >= 60  # parsed
    missing = []
    for file, name in refs:
        path = ROOT / "tests" / file
        if not path.is_file():
            missing.append(file)
        elif name is not None and not re.search(rf"^(async )?def {name}\(", path.read_text(),
                                                re.MULTILINE):
            missing.append(f"{file}::{name}")
    assert missing == []
