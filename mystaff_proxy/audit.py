"""The audit log (SPEC §9): one JSON line per event, on disk before the change is reported.

Each record is appended with ONE ``os.write`` of the whole line to a file opened with
``O_APPEND`` and then ``os.fsync``ed, before ``write`` returns; writers are serialized by a lock,
so lines never interleave. If the write or the fsync fails, ``AuditUnavailable`` is raised and
the caller must refuse the change (nothing unaudited happens). The file is opened per record,
so an external rotation (rename + new file) is picked up at the next record.

``AuditEvent`` refuses what must never be logged: ``detail`` accepts only the keys in
``DETAIL_KEYS``, and a value that looks like a phone number, a JWT or a secret raises ValueError.
"""

from __future__ import annotations

import asyncio
import errno
import json
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
    ACCESS_DENIED = "access_denied"


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


class AuditUnavailable(Exception):
    """The record could not be made durable; the change it describes must not be reported done."""


#: The only keys ``detail`` may carry, and what each holds.
DETAIL_KEYS: Final = frozenset({
    "phoneType",           # mobile | alternateMobile | office
    "phoneLast2",          # the last two digits of the new (or removed) number
    "previousPhoneLast2",  # the last two digits of the number it replaced
    "method",              # password: "generated" | "manager_entered"
    "count",               # a number of items (e.g. staff listed)
    "action",              # the refused action (reset_password, manage_phone, view)
    "why",                 # authz's internal reason (self, admin, protected_group, ...)
    "retryAfter",          # seconds, for rate_limited
    "graphStatus",         # the HTTP status Graph answered, for failed
    "graphCode",           # Graph's error code, for failed (an identifier, not a message)
})
_LAST_DIGITS_KEYS: Final = frozenset({"phoneLast2", "previousPhoneLast2"})

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
        if key in _LAST_DIGITS_KEYS or abs(value) >= 10**6:
            raise ValueError(f"audit detail {key!r}: refusing a number that long")
        return
    if not isinstance(value, str):
        raise ValueError(f"audit detail {key!r}: only strings, numbers and booleans")
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

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
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
        return out

    def to_line(self) -> bytes:
        text = json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))
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

    @property
    def is_stdout(self) -> bool:
        return self.path == "-"

    async def write(self, event: AuditEvent) -> None:
        """Write and fsync the record in a worker thread; raises AuditUnavailable."""
        line = event.to_line()
        await asyncio.to_thread(self._append, line)

    def write_sync(self, event: AuditEvent) -> None:
        self._append(event.to_line())

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
            return PendingRecord(self, provisional, None, 0, 0)
        line = provisional.to_line()
        padded = line[:-2] + b" " * _RESERVE + line[-2:]  # spaces before the final "}"
        fd, offset = await asyncio.to_thread(self._append_reserved, padded)
        return PendingRecord(self, provisional, fd, offset, len(padded))

    def _append_reserved(self, line: bytes) -> tuple[int, int]:
        """Append ``line``; return a second, non-appending fd on the same file and its offset."""
        with self._lock:
            reserved = self._append_file(line, reserve=True)
        assert reserved is not None
        return reserved

    def check(self) -> None:
        """Fail early (at start-up) when the log cannot be opened for appending."""
        if self.is_stdout:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise AuditUnavailable(f"cannot open the audit log {self.path}: {exc.strerror}") \
                from None
        os.close(fd)

    def _append(self, line: bytes) -> None:
        with self._lock:
            if self.is_stdout:
                self._append_stdout(line)
            else:
                self._append_file(line)

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


_RESERVE: Final = 160  # bytes kept free in a provisional line for the final reason and detail


class PendingRecord:
    """A change's record on disk as ``interrupted``, waiting for the change's outcome."""

    def __init__(self, log: AuditLog, event: AuditEvent, fd: int | None, offset: int,
                 length: int) -> None:
        self._log = log
        self._event = event
        self._fd = fd
        self._offset = offset
        self._length = length

    async def finish(self, outcome: Outcome, reason: str | None = None,
                     detail: Mapping[str, str | int | bool] | None = None) -> None:
        """Rewrite the record with the real outcome, fsynced; raises AuditUnavailable."""
        final = replace(self._event, outcome=outcome, reason=reason,
                        detail={**(self._event.detail or {}), **(detail or {})} or None)
        if self._fd is None:
            await self._log.write(final)
            return
        line = final.to_line()
        if len(line) > self._length:
            final = replace(final, detail=self._event.detail)
            line = final.to_line()
        padded = line[:-2] + b" " * (self._length - len(line)) + line[-2:]
        await asyncio.to_thread(self._rewrite, padded)

    def _rewrite(self, line: bytes) -> None:
        assert self._fd is not None and len(line) == self._length
        fd, self._fd = self._fd, None
        try:
            os.pwrite(fd, line, self._offset)
            os.fsync(fd)
        except OSError as exc:
            raise AuditUnavailable(f"cannot complete the audit record: {exc.strerror}") \
                from None
        finally:
            os.close(fd)
