"""Who owns something that is tenant-wide power: applications, service principals and
role-assignable groups (``protected.owners``, docs/authorization.md).

Owning the proxy's own app registration lets one add a credential to it and act as the proxy
everywhere; owning a role-assignable group lets one add oneself to its roles. So an owner is
never managed. Graph cannot answer "what does this user own?" to an app
(``/users/{id}/ownedObjects`` is delegated-only), so the set is read from the owned side, for
the whole tenant, off the request path, and refreshed every ``[graph]
owners_refresh_seconds``. A change needs an answer no older than twice that: past it, the
set is unknown and changes are refused (``upstream_unavailable``) until a refresh succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.graph.operations import GraphOperations

log = logging.getLogger("mystaff_proxy.policy.owners")

#: After a failed refresh, try again this soon (or at the interval, if that is shorter).
RETRY_SECONDS = 30.0


class OwnerSet:
    def __init__(self, ops: GraphOperations, *, refresh_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ops = ops
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._owners: frozenset[str] | None = None
        self._at = 0.0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def owners(self) -> frozenset[str] | None:
        """The owner ids, or None when unknown or older than twice the refresh interval."""
        if self._owners is None or self._clock() - self._at > 2 * self.refresh_seconds:
            return None
        return self._owners

    def is_owner(self, user_id: str) -> bool | None:
        owners = self.owners()
        return None if owners is None else user_id.lower() in owners

    async def refresh(self) -> bool:
        """Read the set again; False (logged) when Graph failed: the old answer ages out."""
        async with self._lock:
            try:
                owners = await self._ops.owner_ids()
            except GraphError as exc:
                message = f"cannot read the owners of applications and groups: {exc.status} " \
                          f"{exc.code}"
                if message != self.last_error:
                    log.error("%s; changes are refused once the last answer is %g s old",
                              message, 2 * self.refresh_seconds)
                self.last_error = message
                return False
            self._owners, self._at, self.last_error = owners, self._clock(), None
            return True

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        """Refresh for ever (the first read is the start-up's, see ``init_app``)."""
        while True:
            ok = self.last_error is None and self._owners is not None
            await asyncio.sleep(self.refresh_seconds if ok
                                else min(RETRY_SECONDS, self.refresh_seconds))
            try:
                await self.refresh()
            except Exception:  # the refresher must never die; the failure is logged
                log.exception("owner set refresh failed")
