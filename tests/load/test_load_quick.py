"""The load test in its short form: 8 signed-in managers for 8 s, zero errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_load_run_has_no_errors() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--quick"],
        capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "errors: 0" in result.stdout
    assert "proxy RSS:" in result.stdout
    assert "second-half slope" in result.stdout
