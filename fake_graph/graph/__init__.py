"""The Microsoft Graph ``/v1.0`` resources of fake_graph.

One aiohttp catch-all route, ``/v1.0/{tail}``, hands every request to ``dispatch``, which
``$batch`` sub-requests share (authentication, faults, recording, error shapes). Routes are in
``routes.py``; OData query handling in ``odata/``; JSON shapes in ``serialize.py``.
"""

from __future__ import annotations

import json

from aiohttp import web

from ..faults import ConnectionAborted, abort_connection
from ..state import FAKE
from . import indexes
from .context import GraphRequest, GraphResponse
from .dispatch import dispatch

__all__ = ["GraphRequest", "GraphResponse", "dispatch", "handle", "setup"]

_PREFIX = "/v1.0"


async def handle(request: web.Request) -> web.StreamResponse:
    fake = request.app[FAKE]
    raw_path = request.rel_url.raw_path
    tail = raw_path[len(_PREFIX):] if raw_path.startswith(_PREFIX) else raw_path
    body = await request.read() if request.can_read_body else None
    try:
        response = await dispatch(fake, request.method, tail,
                                  request.rel_url.raw_query_string, request.headers, body)
    except ConnectionAborted:
        return abort_connection(request)
    if response.raw is not None:
        return web.Response(status=response.status, body=response.raw, headers=response.headers)
    text = None if response.body is None else json.dumps(response.body)
    return web.Response(status=response.status, text=text, headers=response.headers)


def setup(app: web.Application) -> None:
    """Register the ``/v1.0`` catch-all route and reset hooks on the fake's application."""
    fake = app[FAKE]

    def on_reset() -> None:
        indexes.clear()
        for key in [k for k in fake.state if k.startswith("graph.")]:
            del fake.state[key]

    # create_app may run more than once for one fake (tests): register the hook once.
    on_reset.fake_graph_graph = True  # type: ignore[attr-defined]
    if not any(getattr(h, "fake_graph_graph", False) for h in fake.on_reset):
        fake.on_reset.append(on_reset)
    app.router.add_route("*", _PREFIX + "/{tail:.*}", handle)
