"""``mystaff-proxy audit find-phone NUMBER``: every audit event about one phone number, on any
account, although the log never holds a number (docs/phones.md).

Phone events carry ``phoneHash`` (and a change ``previousPhoneHash``): the HMAC-SHA256 of the
number in E.164 under the proxy's key (phone_hash.py). The number given here is read the same
way and hashed with the same key; every record naming that hash on either side is listed, in
the order of the files and lines: the number set (``phone_added``), put in place of another
or replaced (``phone_changed``, either side), removed (``phone_removed``), and the attempts
refused or failed with a number (their ``outcome`` and ``reason`` say so).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

#: The detail keys that name a number, and what a match on each means.
HASH_KEYS: Final = {"phoneHash": "", "previousPhoneHash": "previous number"}


@dataclass(frozen=True)
class Found:
    """One record about the number: where it is, what it says, which side matched."""

    where: str  # PATH:LINE
    record: dict[str, Any]
    side: str  # "" (the number set, or removed) or "previous number" (a change replaced it)

    def line(self) -> str:
        """``time  event  outcome  actor  target  location  phoneType[  previous number]``."""
        r = self.record
        outcome = str(r.get("outcome", "?"))
        if r.get("reason"):
            outcome += f":{r['reason']}"
        detail = r.get("detail")
        if not isinstance(detail, dict):
            detail = {}
        fields = [str(r.get("time", "?")), str(r.get("event", "?")), outcome,
                  _upn(r.get("actor")), _upn(r.get("target")), str(r.get("location") or "-"),
                  str(detail.get("phoneType") or "-")]
        if self.side:
            fields.append(self.side)
        return "  ".join(fields)


def _upn(principal: Any) -> str:
    if isinstance(principal, dict):
        return str(principal.get("userPrincipalName") or principal.get("id") or "-")
    return "-"


def find_phone(paths: Sequence[str], digest: str) -> Iterator[Found]:
    """Every record whose ``phoneHash`` or ``previousPhoneHash`` is ``digest``. Lines that are
    not JSON objects are passed over (``audit verify`` is the judge of a file's integrity).
    Raises OSError when a file cannot be read."""
    for path in paths:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                if b"Hash" not in raw:  # most lines are not phone events: skip the parse
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                detail = record.get("detail") if isinstance(record, dict) else None
                if not isinstance(detail, dict):
                    continue
                for key, side in HASH_KEYS.items():
                    if detail.get(key) == digest:
                        yield Found(f"{path}:{number}", record, side)
                        break
