"""The audit log (docs/audit.md): one JSON line per event, on disk before the change is reported.

Each record is appended with ONE ``os.write`` of the whole line to a file opened with
``O_APPEND`` and then ``os.fsync``ed, before ``write`` returns; writers are serialized by a lock,
so lines never interleave. If the write or the fsync fails, ``AuditUnavailable`` is raised and
the caller must refuse the change (nothing unaudited happens). The file is opened per record,
so an external rotation (rename + new file) is picked up at the next record.

``AuditEvent`` refuses what must never be logged: ``detail`` accepts only the keys in
``DETAIL_KEYS``, and a value that looks like a phone number, a JWT or a secret raises ValueError
(a phone hash, only under its own keys, is 64 hex digits and nothing else).

Tamper evidence (docs/audit.md): every line ends with ``seq`` (its place in the file, one more
than the line before it) and ``prev`` (the SHA-256 of the record that was *completed* just
before it). A change's line is written before the change as ``prev: "pending"`` and gets its
``prev`` when it is rewritten with the outcome, so the chain covers each line's final bytes;
``audit_verify`` checks both. The chain's head and the last ``seq`` are kept in memory (so a
rotation continues the chain) and read back from the end of the file at start-up.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final


class EventType(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    PASSWORD_RESET = "password_reset"
    PHONE_ADDED = "phone_added"
    PHONE_CHANGED = "phone_changed"
    PHONE_REMOVED = "phone_removed"
    TEMPORARY_ACCESS_PASS_ISSUED = "temporary_access_pass_issued"
    TEMPORARY_ACCESS_PASS_REMOVED = "temporary_access_pass_removed"
    SMS_SIGN_IN_ENABLED = "sms_sign_in_enabled"
    SMS_SIGN_IN_DISABLED = "sms_sign_in_disabled"
    ACCESS_DENIED = "access_denied"
    # The person was not told of a change to their account (notify.py); the change stands.
    NOTIFICATION_FAILED = "notification_failed"


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


log = logging.getLogger("mystaff_proxy")

#: ``prev`` of the first record of a chain (a new file with nothing before it).
GENESIS: Final = "0" * 64
#: ``prev`` of a change's line until its outcome is written (see ``AuditLog.begin``).
PENDING: Final = "pending"
#: How much of an existing file is read at start-up to find the chain's head (see _ChainStart).
_TAIL_BYTES: Final = 4 * 1024 * 1024


def line_hash(line: bytes) -> str:
    """What the next record's ``prev`` holds: SHA-256 of a line, without its newline."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


class AuditUnavailable(Exception):
    """The record could not be made durable; the change it describes must not be reported done."""


#: The only keys ``detail`` may carry, and what each holds.
DETAIL_KEYS: Final = frozenset({
    "phoneType",           # mobile | alternateMobile | office
    "phoneLast2",          # the last two digits of the new (or removed) number
    "previousPhoneLast2",  # the last two digits of the number it replaced
    "phoneHash",           # HMAC-SHA256 (hex) of the number in E.164 (phone_hash.py)
    "previousPhoneHash",   # the same of the number it replaced
    "method",              # password: "generated" | "manager_entered"
    "count",               # a number of items (e.g. staff listed)
    "action",              # the refused action (reset_password, manage_phone, view)
    "why",                 # authz's internal reason (self, admin, protected_group, ...)
    "retryAfter",          # seconds, for rate_limited
    "graphStatus",         # the HTTP status Graph answered, for failed
    "graphCode",           # Graph's error code, for failed (an identifier, not a message)
    "operation",           # manager mode: "unconfirmed" when a reset could not be confirmed
    "lifetimeInMinutes",   # a Temporary Access Pass's lifetime (never the pass)
    "isUsableOnce",        # whether that pass signs in once
    "smsSignInState",      # the mobile's SMS sign-in state Graph reports (e.g. "ready")
})
_LAST_DIGITS_KEYS: Final = frozenset({"phoneLast2", "previousPhoneLast2"})
#: Keys whose value is a keyed hash: 64 lower-case hex digits, and nothing else (the checks
#: below would take one for a secret; it is exactly what may be logged instead of a number).
_HASH_KEYS: Final = frozenset({"phoneHash", "previousPhoneHash"})
_HASH_RE: Final = re.compile(r"[0-9a-f]{64}")

_CODE_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")
_JWT_RE: Final = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.")
_TOKENISH_RE: Final = re.compile(r"[A-Za-z0-9+/=_~.-]{20,}")
_MAX_VALUE: Final = 64
# C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates, BOM.
_LOG_UNSAFE_RE: Final = re.compile("[\u0080-\u009f\u2028\u2029\u202a-\u202e"
                                   "\u2066-\u2069\ufeff]")


def _mixed(run: str) -> bool:
    """A long run of letters AND digits: a key, a token, an id, not a word or an error code."""
    return any(c.isdigit() for c in run) and any(c.isalpha() for c in run)


def _check_value(key: str, value: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if key in _LAST_DIGITS_KEYS or key in _HASH_KEYS or abs(value) >= 10**6:
            raise ValueError(f"audit detail {key!r}: refusing a number that long")
        return
    if not isinstance(value, str):
        raise ValueError(f"audit detail {key!r}: only strings, numbers and booleans")
    if key in _HASH_KEYS:
        if not _HASH_RE.fullmatch(value):
            raise ValueError(f"audit detail {key!r}: only a hash (64 hex digits)")
        return
    digits = sum(c.isdigit() for c in value)
    if key in _LAST_DIGITS_KEYS:
        if not (value.isdigit() and len(value) <= 4):
            raise ValueError(f"audit detail {key!r}: at most the last 4 digits of a number")
        return
    if len(value) > _MAX_VALUE:
        raise ValueError(f"audit detail {key!r}: value too long to be safe to log")
    if _JWT_RE.search(value) or any(_mixed(m) for m in _TOKENISH_RE.findall(value)):
        raise ValueError(f"audit detail {key!r}: looks like a token or a secret")
    if digits >= 5:
        raise ValueError(f"audit detail {key!r}: looks like a phone number")


@dataclass(frozen=True, slots=True)
class Principal:
    """A user in the record: object id and UPN (the UPN as Graph or the token gave it)."""

    id: str
    user_principal_name: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "userPrincipalName": self.user_principal_name}


@dataclass(frozen=True, slots=True)
class AuditEvent:
    request_id: str
    event: EventType
    actor: Principal | None  # None only when sign-in failed before anyone was known
    outcome: Outcome
    target: Principal | None = None
    location: str | None = None
    reason: str | None = None  # the error code, for denied and failed
    detail: Mapping[str, str | int | bool] | None = None
    time: datetime | None = field(default=None)  # default: when it is written

    def __post_init__(self) -> None:
        if not isinstance(self.event, EventType) or not isinstance(self.outcome, Outcome):
            raise ValueError("event and outcome must be EventType and Outcome")
        if self.outcome is Outcome.SUCCESS and self.reason is not None:
            raise ValueError("a successful event has no reason")
        if self.outcome is not Outcome.SUCCESS and not self.reason:
            raise ValueError("a denied or failed event needs a reason (its error code)")
        if self.reason is not None and not _CODE_RE.fullmatch(self.reason):
            raise ValueError("reason must be a short code such as 'protected_user'")
        for key, value in (self.detail or {}).items():
            if key not in DETAIL_KEYS:
                raise ValueError(f"audit detail key {key!r} is not allowed")
            _check_value(key, value)

    def to_json(self, now: datetime | None = None,
                chain: tuple[int, str] | None = None) -> dict[str, Any]:
        """The record; ``chain`` = (seq, prev), the last two keys, when written to a log."""
        when = (self.time or now or datetime.now(UTC)).astimezone(UTC)
        actor = self.actor.to_json() if self.actor else {"id": None, "userPrincipalName": None}
        out: dict[str, Any] = {
            "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "requestId": self.request_id,
            "event": self.event.value,
            "actor": actor,
        }
        if self.target is not None:
            out["target"] = self.target.to_json()
        if self.location is not None:
            out["location"] = self.location
        out["outcome"] = self.outcome.value
        if self.reason is not None:
            out["reason"] = self.reason
        if self.detail:
            out["detail"] = dict(self.detail)
        if chain is not None:
            out["seq"], out["prev"] = chain
        return out

    def to_line(self, chain: tuple[int, str] | None = None) -> bytes:
        text = json.dumps(self.to_json(chain=chain), ensure_ascii=False, separators=(",", ":"))
        # A value from a request (a location key in a URL) may hold U+2028, U+0085 and the
        # like, which line-oriented readers take for a line break (the security suite's
        # fuzzing split a record in two that way: log injection), or bidi controls that make
        # a line read differently. They can only occur inside JSON strings: escape them.
        text = _LOG_UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return (text + "\n").encode("utf-8")


class AuditLog:
    """Appends audit records to ``path`` ("-" = standard output), durably, one line each."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()  # serializes threads and event loops alike
        # The chain: the hash of the last completed record and the last seq written. None
        # until read back from the file (the first write, or check() at start-up).
        self._head: str | None = None
        self._seq = 0

    @property
    def is_stdout(self) -> bool:
        return self.path == "-"

    async def write(self, event: AuditEvent) -> None:
        """Write and fsync the record in a worker thread; raises AuditUnavailable."""
        await asyncio.to_thread(self._append, event)

    def write_sync(self, event: AuditEvent) -> None:
        self._append(event)

    @property
    def head(self) -> str | None:
        """The hash of the last completed record (what the next one's ``prev`` will be)."""
        return self._head

    async def begin(self, event: AuditEvent) -> PendingRecord:
        """Write a change's record BEFORE the change is sent; ``finish`` fixes its outcome.

        The record goes to disk as ``failed``/``interrupted`` (what is true if the process dies
        before Graph answers), padded with spaces, so that ``finish`` can rewrite it in place
        with the real outcome: a change is never on Graph without its line in the log, even
        after ``kill -9``, and each change still has exactly one line. On standard output,
        where nothing can be rewritten, the record is written by ``finish`` only.
        """
        provisional = replace(event, outcome=Outcome.FAILED, reason="interrupted",
                              time=event.time or datetime.now(UTC))
        if self.is_stdout:
            return PendingRecord(self, provisional, None, 0, 0, 0)
        return await asyncio.to_thread(self._append_reserved, provisional)

    def _append_reserved(self, provisional: AuditEvent) -> PendingRecord:
        """Append the provisional line (``prev`` pending: it joins the chain when it is
        completed); keep a second, non-appending fd on the same file and its offset."""
        with self._lock:
            self._start_chain()
            seq = self._seq + 1
            line = provisional.to_line((seq, PENDING))
            padded = line[:-2] + b" " * _RESERVE + line[-2:]  # spaces before the final "}"
            reserved = self._append_file(padded, reserve=True)
            self._seq = seq
        assert reserved is not None
        fd, offset = reserved
        return PendingRecord(self, provisional, fd, offset, len(padded), seq)

    def check(self) -> None:
        """Fail early (at start-up) when the log cannot be opened for appending; read the
        chain back from the end of the file (and complete the records a crash left)."""
        if self.is_stdout:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise AuditUnavailable(f"cannot open the audit log {self.path}: {exc.strerror}") \
                from None
        os.close(fd)
        with self._lock:
            self._start_chain()

    def _append(self, event: AuditEvent) -> None:
        with self._lock:
            self._start_chain()
            assert self._head is not None
            line = event.to_line((self._seq + 1, self._head))
            if self.is_stdout:
                self._append_stdout(line)
            else:
                self._append_file(line)
            # Only once the line is in the file (fsynced or not: a failed fsync leaves it
            # there, and the next record must follow it).
            self._seq += 1
            self._head = line_hash(line)

    def _start_chain(self) -> None:
        """The chain's head and last seq, from the end of the existing file (lock held)."""
        if self._head is not None:
            return
        if self.is_stdout:
            self._head = GENESIS  # nothing to read back: each run starts a chain
            return
        try:
            start = _ChainStart.read(self.path)
        except OSError as exc:
            raise AuditUnavailable(f"cannot read the audit log: {exc.strerror}") from None
        self._head, self._seq = start.head, start.seq
        if start.orphans:
            log.warning("audit log: %d change record(s) left pending by a stop while Graph "
                        "was answering; completed as interrupted", start.orphans)

    def _complete(self, fd: int, offset: int, length: int, final: AuditEvent,
                  fallback_detail: Mapping[str, str | int | bool] | None, seq: int) -> None:
        """Rewrite a change's line in place with its outcome and ``prev`` = the chain's head
        now (completion order), and make it the head."""
        with self._lock:
            assert self._head is not None
            chain = (seq, self._head)
            line = final.to_line(chain)
            if len(line) > length:
                line = replace(final, detail=fallback_detail).to_line(chain)
            padded = line[:-2] + b" " * (length - len(line)) + line[-2:]
            assert len(padded) == length
            try:
                os.pwrite(fd, padded, offset)
            except OSError as exc:
                raise AuditUnavailable(f"cannot complete the audit record: {exc.strerror}") \
                    from None
            self._head = line_hash(padded)

    def _append_file(self, line: bytes, *, reserve: bool = False) -> tuple[int, int] | None:
        """Append and fsync ``line`` (the caller holds the lock).

        With ``reserve``, also return a plain (non-O_APPEND) fd on the same inode and the
        line's offset: O_APPEND would make pwrite append (Linux), and the inode survives a
        rotation between ``begin`` and ``finish``.
        """
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise AuditUnavailable(f"cannot open the audit log: {exc.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            written = os.write(fd, line)
            if written != len(line):
                # Disk full mid-line: take the partial line back so the file stays parseable.
                os.ftruncate(fd, size)
                raise AuditUnavailable("the audit log is full")
            offset = os.lseek(fd, 0, os.SEEK_CUR) - len(line)
            os.fsync(fd)
            if reserve:
                return os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_CLOEXEC), offset
            return None
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit log: {exc.strerror}") from None
        finally:
            os.close(fd)

    @staticmethod
    def _append_stdout(line: bytes) -> None:
        fd = 1
        try:
            view = memoryview(line)
            while view:  # a pipe may take a long line in parts; the lock keeps it whole
                view = view[os.write(fd, view):]
            try:
                os.fsync(fd)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
                    raise
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit log: {exc.strerror}") from None


# Bytes kept free in a provisional line for the final reason and detail, and for the final
# ``prev`` (64 hex digits where "pending" stood).
_RESERVE: Final = 160 + 64


class PendingRecord:
    """A change's record on disk as ``interrupted``, waiting for the change's outcome."""

    def __init__(self, log: AuditLog, event: AuditEvent, fd: int | None, offset: int,
                 length: int, seq: int) -> None:
        self._log = log
        self._event = event
        self._fd = fd
        self._offset = offset
        self._length = length
        self._seq = seq

    async def finish(self, outcome: Outcome, reason: str | None = None,
                     detail: Mapping[str, str | int | bool] | None = None) -> None:
        """Rewrite the record with the real outcome, fsynced; raises AuditUnavailable."""
        final = replace(self._event, outcome=outcome, reason=reason,
                        detail={**(self._event.detail or {}), **(detail or {})} or None)
        if self._fd is None:
            await self._log.write(final)
            return
        await asyncio.to_thread(self._rewrite, final)

    def _rewrite(self, final: AuditEvent) -> None:
        assert self._fd is not None
        fd, self._fd = self._fd, None
        try:
            self._log._complete(fd, self._offset, self._length, final, self._event.detail,
                                self._seq)
            # fsync outside the log's lock: it syncs the whole file, whoever calls it.
            os.fsync(fd)
        except OSError as exc:
            raise AuditUnavailable(f"cannot complete the audit record: {exc.strerror}") \
                from None
        finally:
            os.close(fd)


class _ChainStart:
    """Where the chain stands in an existing file: its head, the last seq, and change records
    a crash left pending (completed here as what they say, ``interrupted``).

    The head is the one completed record in the file's tail that no other record's ``prev``
    names; the tail read is the last 4 MiB (more than any change stays pending), the whole
    file when that is not enough to tell. A file written before the chain existed (no
    ``seq``): the chain starts at the hash of its last line.
    """

    def __init__(self, head: str, seq: int, orphans: int) -> None:
        self.head, self.seq, self.orphans = head, seq, orphans

    @classmethod
    def read(cls, path: str) -> _ChainStart:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return cls(GENESIS, 0, 0)
        try:
            size = os.fstat(fd).st_size
            window = min(size, _TAIL_BYTES)
            while True:
                start = cls._scan(fd, size, window)
                if start is not None:
                    return start
                window = size  # ambiguous within the tail: read it all
        finally:
            os.close(fd)

    @classmethod
    def _scan(cls, fd: int, size: int, window: int) -> _ChainStart | None:
        base = size - window
        data = os.pread(fd, window, base)
        skip = 0 if base == 0 else data.find(b"\n") + 1  # the first line may be cut
        lines: list[tuple[int, bytes, dict[str, Any]]] = []
        offset = skip
        for raw in data[skip:].split(b"\n")[:-1]:
            try:
                record = json.loads(raw)
            except ValueError:
                record = {}
            lines.append((base + offset, raw, record if isinstance(record, dict) else {}))
            offset += len(raw) + 1
        if not lines:
            return cls(GENESIS, 0, 0)
        chained = [(raw, r) for _, raw, r in lines
                   if isinstance(r.get("seq"), int) and r.get("prev") not in (None, PENDING)]
        last_seq = max((r["seq"] for _, _, r in lines if isinstance(r.get("seq"), int)),
                       default=0)
        if not chained:
            head = line_hash(lines[-1][1]) if base == 0 or window == size else None
            if head is None:
                return None
        else:
            named = {r["prev"] for _, r in chained}
            heads = [line_hash(raw) for raw, _ in chained if line_hash(raw) not in named]
            if len(heads) != 1:
                if window < size:
                    return None
                log.warning("audit log: the chain's head is ambiguous (%d candidates); "
                            "continuing from the last", len(heads))
            head = heads[-1] if heads else line_hash(chained[-1][0])
        orphans = 0
        for where, raw, r in lines:
            if r.get("prev") != PENDING or not isinstance(r.get("seq"), int):
                continue
            completed = cls._complete_orphan(raw, head)
            if completed is None:
                continue
            os.pwrite(fd, completed, where)
            head, orphans = line_hash(completed), orphans + 1
        if orphans:
            os.fsync(fd)
        return cls(head, last_seq, orphans)

    @staticmethod
    def _complete_orphan(raw: bytes, head: str) -> bytes | None:
        """The line with ``prev`` = head, same length (taken from the padding)."""
        marker = b'"prev":"' + PENDING.encode() + b'"'
        grown = raw.replace(marker, b'"prev":"' + head.encode() + b'"')
        extra = len(grown) - len(raw)
        body = grown[:-1]
        if grown.count(marker) or not body.endswith(b" " * extra):
            return None
        return body[:len(body) - extra] + b"}"
