"""The object ids that protected UPNs resolved to, remembered across renames and restarts.

``protected.users`` may name people by UPN. When IT renames such a person, the old UPN stops
resolving: without memory, the person would silently become manageable. So each id a
protected UPN ever resolved to is kept (in a small JSON file, ``[policy]
remembered_ids_path``) for as long as that UPN stays in the policy; ``mystaff-proxy policy
check --online`` names the UPNs that stopped resolving (docs/authorization.md).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("mystaff_proxy.policy.model")


def load_remembered(path: str | None) -> dict[str, frozenset[str]]:
    """UPN -> object ids; empty when there is no file yet. A damaged file is logged and
    read as empty (the policy's current resolution still protects everyone it names)."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.error("%s: cannot read remembered protected ids: %s", path, exc)
        return {}
    out: dict[str, frozenset[str]] = {}
    if isinstance(data, dict) and isinstance(data.get("protectedUsers"), dict):
        for upn, ids in data["protectedUsers"].items():
            if isinstance(upn, str) and isinstance(ids, list):
                out[upn.lower()] = frozenset(str(i).lower() for i in ids if isinstance(i, str))
    return out


def save_remembered(path: str | None, remembered: Mapping[str, frozenset[str]]) -> None:
    """Write atomically (temporary file, fsync, rename): a crash keeps the old or the new."""
    if path is None:
        return
    body = json.dumps({"protectedUsers": {u: sorted(ids) for u, ids in
                                          sorted(remembered.items())}}, indent=1)
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent or Path("."), prefix=".protected-ids.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.error("%s: cannot remember protected ids (kept in memory only): %s", path, exc)
