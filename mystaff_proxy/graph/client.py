"""A small typed async Microsoft Graph client on aiohttp.

Why not msgraph-sdk: it spends ~3.4 ms CPU per deserialized object (docs/architecture.md);
this client hands plain dicts to the typed operations in ``operations.py`` and nothing else
sees raw JSON.

Retries (docs/graph-calls.md): GET, PATCH and DELETE (and read-only ``$batch``) are retried on
429/503/504 and on connection errors, honouring ``Retry-After``, within ``retry_budget``
seconds; a POST that changes something is never blindly repeated.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from mystaff_proxy.graph.exceptions import (
    GATEWAY_TIMEOUT,
    IDENTITY,
    LOST_ANSWER_CODES,
    GraphError,
    GraphUnauthorized,
    GraphUnavailable,
    error_for,
)

TokenProvider = Callable[[bool], Awaitable[str]]  # force_refresh -> bearer token
CallObserver = Callable[[str, int, float], None]  # (operation, status, seconds)

RETRY_STATUSES = frozenset({429, 503, 504})
BATCH_LIMIT = 20
_DEFAULT_RETRY_AFTER = 1.0


@dataclass(frozen=True)
class GraphResponse:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchRequest:
    """One sub-request of a ``$batch``: ``url`` is relative to the version root."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Graph's ``Retry-After`` in seconds, or None when absent or unreadable."""
    return _retry_after(headers)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _graph_error(status: int, body: Any, headers: Mapping[str, str]) -> GraphError:
    code, message = "unknown", f"HTTP {status}"
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code") or code)
        message = str(err.get("message") or message)
    request_id = headers.get("request-id")
    return error_for(status, code, message, request_id, _retry_after(headers))


class GraphClient:
    """Calls Graph at ``base_url`` (e.g. ``https://graph.microsoft.com/v1.0``)."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        token: TokenProvider,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        retry_budget: float = 30.0,
        observer: CallObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max_retries
        self._retry_budget = retry_budget
        self._observer = observer
        self._sleep = sleep

    def url(self, path: str) -> str:
        return path if path.startswith("https://") or path.startswith("http://") \
            else f"{self.base_url}/{path.lstrip('/')}"

    async def _app_token(self, force: bool) -> str:
        """The app token, within the same timeout as a Graph call: a token endpoint that
        hangs must not hold a manager's request longer than Graph itself may."""
        try:
            async with asyncio.timeout(self._timeout.total):
                return await self._token(force)
        except TimeoutError:
            raise GraphUnavailable(504, IDENTITY, "the identity platform did not answer within "
                                   f"{self._timeout.total:g} s") from None

    async def _send_once(self, method: str, url: str, params: Mapping[str, str] | None,
                         body: Any, headers: Mapping[str, str] | None, op: str,
                         force_token: bool = False,
                         delegated: str | None = None) -> GraphResponse:
        token = delegated if delegated is not None else await self._app_token(force_token)
        send_headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if headers:
            send_headers.update(headers)
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body).encode()
            send_headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        status = 0
        try:
            async with self._session.request(method, url, params=params, data=data,
                                             headers=send_headers,
                                             timeout=self._timeout) as resp:
                status = resp.status
                raw = await resp.read()
                resp_headers = dict(resp.headers)
        except TimeoutError:
            raise GraphUnavailable(504, "timeout", f"Graph did not answer within "
                                   f"{self._timeout.total:g} s") from None
        except aiohttp.ClientError as exc:
            raise GraphUnavailable(503, "connection", f"cannot reach Graph: "
                                   f"{type(exc).__name__}") from None
        finally:
            if self._observer is not None:
                self._observer(op, status, time.perf_counter() - started)
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                if status < 400:
                    raise GraphUnavailable(502, "malformed", "Graph sent a malformed answer")\
                        from None
        return GraphResponse(status, parsed, resp_headers)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        op: str = "graph",
        token: str | None = None,
    ) -> GraphResponse:
        """One Graph call; returns a 2xx answer or raises a GraphError subclass.

        ``retry`` defaults to True for GET/PATCH/DELETE, False for POST. ``token``: a
        delegated token to send instead of the app's (manager mode); Graph refusing it (401)
        is raised as ``GraphUnauthorized``, for the caller to ask the manager to sign in again.
        """
        method = method.upper()
        may_retry = retry if retry is not None else method in ("GET", "PATCH", "DELETE", "HEAD")
        url = self.url(path)
        deadline = time.monotonic() + self._retry_budget
        attempt = 0
        refreshed = False
        force_token = False
        # Whether an attempt's answer was lost (timeout, reset, unreadable, gateway timeout):
        # that attempt may have been carried out, which the final error must say
        # (GraphError.unanswered_attempt; e.g. a repeated DELETE then finds nothing).
        unanswered = False
        while True:
            try:
                resp = await self._send_once(method, url, params, body, headers, op,
                                             force_token=force_token, delegated=token)
                force_token = False
            except GraphUnavailable as exc:
                unanswered = unanswered or exc.code in LOST_ANSWER_CODES
                exc.unanswered_attempt = unanswered
                # A timeout or reset on a write leaves its outcome unknown: never repeat it.
                # Without an app token nothing was sent: that is safe to repeat for any call.
                if not (may_retry or exc.code == IDENTITY) or attempt >= self._max_retries:
                    raise
                delay = min(_DEFAULT_RETRY_AFTER, 0.2 * 2**attempt)
                if time.monotonic() + delay > deadline:
                    raise exc from None
                attempt += 1
                await self._sleep(delay)
                continue
            if resp.status < 400:
                return resp
            if resp.status == 401 and not refreshed and token is None:
                # An expired or revoked app token: nothing was done, so one retry is safe.
                refreshed = force_token = True
                continue
            unanswered = unanswered or resp.status == GATEWAY_TIMEOUT
            error = _graph_error(resp.status, resp.body, resp.headers)
            error.unanswered_attempt = unanswered
            if resp.status in RETRY_STATUSES and may_retry and attempt < self._max_retries:
                delay = error.retry_after if error.retry_after is not None \
                    else _DEFAULT_RETRY_AFTER * 2**attempt
                if time.monotonic() + delay <= deadline:
                    attempt += 1
                    await self._sleep(delay)
                    continue
            if isinstance(error, GraphUnauthorized) and token is None:
                raise GraphUnavailable(503, error.code, "Graph refused the app's token",
                                       error.request_id) from None
            raise error

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def get(self, path: str, *, params: Mapping[str, str] | None = None,
                  headers: Mapping[str, str] | None = None, op: str = "graph") -> Any:
        return (await self.request("GET", path, params=params, headers=headers, op=op)).body

    async def batch(self, requests: Sequence[BatchRequest], *, op: str = "batch",
                    retry: bool = True, token: str | None = None) -> dict[str, GraphResponse]:
        """Run sub-requests through ``$batch`` (20 per call, calls concurrent).

        Sub-requests answered 429/503/504 are sent again (in a new batch) after their
        ``Retry-After`` while ``retry`` and the budget allow. Returns every answer by id,
        errors included: callers decide what a failed sub-request means.
        """
        results: dict[str, GraphResponse] = {}
        pending = list(requests)
        deadline = time.monotonic() + self._retry_budget
        attempt = 0
        while pending:
            chunks = [pending[i:i + BATCH_LIMIT] for i in range(0, len(pending), BATCH_LIMIT)]
            answers = await asyncio.gather(*(self._batch_once(c, op, retry, token)
                                             for c in chunks))
            again: list[BatchRequest] = []
            wait = 0.0
            for chunk, answer in zip(chunks, answers, strict=True):
                for req in chunk:
                    sub = answer.get(req.id)
                    if sub is None:
                        raise GraphUnavailable(502, "malformed",
                                               "Graph's batch answer lacks a response")
                    if sub.status in RETRY_STATUSES and retry:
                        again.append(req)
                        # "Retry-After: 0" means now, not "unknown" (was `or`: waited 1 s)
                        after = _retry_after(sub.headers)
                        wait = max(wait, _DEFAULT_RETRY_AFTER if after is None else after)
                    results[req.id] = sub
            if not again or attempt >= self._max_retries or time.monotonic() + wait > deadline:
                break
            attempt += 1
            await self._sleep(wait)
            pending = again
        return results

    async def _batch_once(self, chunk: Sequence[BatchRequest], op: str, retry: bool,
                          token: str | None = None) -> dict[str, GraphResponse]:
        payload = {"requests": [_batch_item(r) for r in chunk]}
        resp = await self.request("POST", "$batch", body=payload, retry=retry, op=op,
                                  token=token)
        body = resp.body
        if not isinstance(body, dict) or not isinstance(body.get("responses"), list):
            raise GraphUnavailable(502, "malformed", "Graph sent a malformed batch answer")
        out: dict[str, GraphResponse] = {}
        for item in body["responses"]:
            if not isinstance(item, dict) or "id" not in item or "status" not in item:
                raise GraphUnavailable(502, "malformed", "Graph sent a malformed batch answer")
            headers = item.get("headers") or {}
            out[str(item["id"])] = GraphResponse(int(item["status"]), item.get("body"),
                                                 {str(k): str(v) for k, v in headers.items()})
        return out


def _batch_item(req: BatchRequest) -> dict[str, Any]:
    item: dict[str, Any] = {"id": req.id, "method": req.method,
                            "url": "/" + req.url.lstrip("/")}
    headers = dict(req.headers)
    if req.body is not None:
        item["body"] = req.body
        headers.setdefault("Content-Type", "application/json")
    if headers:
        item["headers"] = headers
    if req.depends_on:
        item["dependsOn"] = list(req.depends_on)
    return item


def raise_for(resp: GraphResponse) -> GraphResponse:
    """A batch sub-response as the exception a direct call would have raised."""
    if resp.status >= 400:
        raise _graph_error(resp.status, resp.body, resp.headers)
    return resp
