"""``mystaff-proxy audit verify [PATH ...]``: prove that no audit line was removed, changed,
added or reordered (docs/audit.md has the rules this checks).

Files are read in the order given, as one stream (rotated files oldest first). Two checks:

- ``seq``: each line's is one more than the line before it, so a removed, added or moved
  line shows at once. A file whose first line is ``seq`` 1 with ``prev`` GENESIS starts a new
  chain (the proxy restarted on a fresh file).
- ``prev``: the SHA-256 of the record completed just before it. Records are chained in
  completion order: a change's line is written before the change and completed (its outcome
  and its ``prev``) when Graph has answered, so its ``prev`` may name a line written after
  it. Only change records may wait like that; every other line must follow the last record
  completed. A line that was changed breaks the record that follows it in the chain.

What it cannot see: lines cut off the end of the last file (compare the last hash it
prints with one kept elsewhere), and the content of a change record that never completed
(``prev: pending``: the proxy stopped while Graph was answering, and did not start on this
file again).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from mystaff_proxy.audit.log import GENESIS, PENDING, EventType, line_hash

_HASH_RE: Final = re.compile(r"[0-9a-f]{64}")
#: Records written before their change and completed after it: they may join the chain late.
CHANGE_EVENTS: Final = frozenset({
    EventType.PASSWORD_RESET.value, EventType.PHONE_ADDED.value,
    EventType.PHONE_CHANGED.value, EventType.PHONE_REMOVED.value,
    EventType.TEMPORARY_ACCESS_PASS_ISSUED.value, EventType.TEMPORARY_ACCESS_PASS_REMOVED.value,
    EventType.SMS_SIGN_IN_ENABLED.value, EventType.SMS_SIGN_IN_DISABLED.value})


class ChainBroken(Exception):
    """``where`` (PATH:LINE) is the first line at which the chain does not hold."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


@dataclass
class Summary:
    records: int = 0
    chains: int = 0  # chains started from GENESIS (a new file after a restart)
    unchained: int = 0  # lines written before the chain existed (older versions)
    pending: list[str] = field(default_factory=list)  # changes that never completed
    first_seq: int | None = None
    last_seq: int | None = None
    head: str | None = None

    def line(self, paths: Sequence[str]) -> str:
        text = (f"{', '.join(paths)}: chain intact: {self.records} records"
                + (f", seq {self.first_seq}..{self.last_seq}" if self.first_seq else "")
                + (f", last hash {self.head}" if self.head else ""))
        if self.chains > 1:
            text += f"; {self.chains} chains (the proxy started on a new file)"
        if self.pending:
            text += (f"; {len(self.pending)} change(s) never completed, content not covered "
                     f"(first at {self.pending[0]})")
        if self.unchained:
            text += f"; {self.unchained} older line(s) before the chain began, not covered"
        return text


def _lines(paths: Sequence[str]) -> Iterator[tuple[str, bytes, bool]]:
    for path in paths:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                yield f"{path}:{number}", raw, number == 1


def verify(paths: Sequence[str]) -> Summary:
    """Check the files as one stream; raises ChainBroken at the first line that breaks it."""
    out = Summary()
    tail: str | None = None  # the hash of the last record completed, in chain order
    tail_at = ""
    expected: int | None = None
    # prev -> (ordinal, where, hash): change records that joined the chain later than lines
    # written after them (completed when Graph answered).
    waiting: dict[str, tuple[int, str, str]] = {}
    last_legacy: str | None = None
    started_mid_chain = -1  # the ordinal where the input joined a chain begun before it

    def follow(where: str, digest: str) -> None:
        nonlocal tail, tail_at
        tail, tail_at = digest, where
        while tail in waiting:
            _, tail_at, tail = waiting.pop(tail)

    for ordinal, (where, raw, first_of_file) in enumerate(_lines(paths)):
        if not raw.endswith(b"\n"):
            raise ChainBroken(where, "the last line is incomplete (no line break)")
        try:
            record: Any = json.loads(raw)
        except ValueError:
            raise ChainBroken(where, "not a JSON record") from None
        if not isinstance(record, dict):
            raise ChainBroken(where, "not a JSON record")
        seq, prev = record.get("seq"), record.get("prev")
        if seq is None and prev is None and expected is None:
            out.unchained += 1  # written before the chain existed
            last_legacy = line_hash(raw)
            continue
        if not (isinstance(seq, int) and seq >= 1 and isinstance(prev, str)
                and (prev == PENDING or _HASH_RE.fullmatch(prev))):
            raise ChainBroken(where, "no valid seq and prev: a line added or edited by hand")
        out.records += 1
        new_chain = seq == 1 and prev == GENESIS and first_of_file
        if expected is not None and seq != expected and not new_chain:
            if seq < expected:
                raise ChainBroken(where, f"seq {seq} after {expected - 1}: lines moved or "
                                         "repeated")
            missing = seq - expected
            raise ChainBroken(where, f"seq {seq}, expected {expected}: {missing} line(s) "
                                     "removed before this one")
        if new_chain and expected is not None:
            _no_waiting(waiting, started_mid_chain, tail_at)
            tail = None
        expected = seq + 1
        out.first_seq = out.first_seq or seq
        out.last_seq = seq
        digest = line_hash(raw)
        if prev == PENDING:
            out.pending.append(where)
            continue
        if new_chain or (tail is None and record.get("event") not in CHANGE_EVENTS):
            if tail is None and last_legacy is not None and prev not in (last_legacy, GENESIS):
                raise ChainBroken(where, "prev is not the hash of the line before it")
            if new_chain or prev == GENESIS:
                out.chains += 1
            elif last_legacy is None:
                # The input starts in the middle of a chain (a later file given alone): its
                # first prev cannot be checked, nor can changes waiting before this line.
                started_mid_chain = ordinal
            follow(where, digest)
        elif prev == tail:
            follow(where, digest)
        elif record.get("event") in CHANGE_EVENTS:
            if prev in waiting:
                raise ChainBroken(where, f"prev names the same record as {waiting[prev][1]}")
            waiting[prev] = (ordinal, where, digest)
        else:
            _broken_after(tail_at, where)
    _no_waiting(waiting, started_mid_chain, tail_at)
    out.head = tail
    return out


def _broken_after(last_good: str, next_line: str) -> NoReturn:
    """The chain holds up to ``last_good`` and ``next_line``, completed next, does not follow
    it: ``last_good`` was changed (the usual case; named), or ``next_line``'s prev was."""
    raise ChainBroken(last_good, f"changed: {next_line}, the record completed after it, names "
                                 "another hash as prev (or that line's prev was changed)")


def _no_waiting(waiting: dict[str, tuple[int, str, str]], started_mid_chain: int,
                last_good: str) -> None:
    """Every change record has joined the chain (those before a mid-chain start excepted:
    what they follow is in an earlier file)."""
    left = sorted(w for w in waiting.values() if w[0] > started_mid_chain)
    waiting.clear()
    if left and last_good:
        _broken_after(last_good, left[0][1])
    if left:
        raise ChainBroken(left[0][1], "prev names no record in the log: the record before "
                                      "it was changed or removed")
