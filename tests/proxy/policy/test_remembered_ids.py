"""Protected UPNs' object ids, remembered in a file across renames and restarts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mystaff_proxy.policy.remembered_ids import load_remembered, save_remembered

CEO = "cee00000-0000-4000-8000-000000000001"


def test_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "protected-ids.json")
    assert load_remembered(path) == {}  # no file yet
    save_remembered(path, {"ceo@contoso.com": frozenset({CEO})})
    assert load_remembered(path) == {"ceo@contoso.com": frozenset({CEO})}
    assert not list(tmp_path.glob(".protected-ids.*"))  # no temporary file left


def test_memory_only() -> None:
    save_remembered(None, {"ceo@contoso.com": frozenset({CEO})})
    assert load_remembered(None) == {}


def test_damaged_file_reads_as_empty_and_is_logged(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "protected-ids.json"
    path.write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.ERROR):
        assert load_remembered(str(path)) == {}
    assert "cannot read remembered protected ids" in caplog.text


def test_unwritable_place_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        save_remembered(str(tmp_path / "missing-dir" / "x.json"), {"a@b.c": frozenset({CEO})})
    assert "kept in memory only" in caplog.text
