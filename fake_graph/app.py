"""The fake's aiohttp application: the shared state plus every handler package.

- ``identity``: discovery, keys, sign-in page, token endpoint (aiohttp routes).
- ``graph``: the ``/v1.0`` resources, dispatched by its own router so that top-level requests
  and ``$batch`` sub-requests take the same path (faults, recording, duplicate slashes).
- ``control``: ``/_fake`` test control.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from . import control, graph, identity
from .state import FAKE, FakeGraph


@web.middleware
async def count_in_progress(request: web.Request, handler: Handler) -> web.StreamResponse:
    fake = request.app[FAKE]
    fake.in_progress += 1
    try:
        return await handler(request)
    finally:
        fake.in_progress -= 1


def create_app(fake: FakeGraph) -> web.Application:
    # The identity middleware records and faults every request except /v1.0 (Graph does its
    # own, $batch sub-requests included) and /_fake (test control is never recorded).
    app = web.Application(client_max_size=4 * 1024 * 1024,
                          middlewares=[count_in_progress, identity.record_and_fault])
    app[FAKE] = fake
    identity.setup(app)
    graph.setup(app)
    control.setup(app)
    return app
