"""The managers' web page (being built; see the web page issue)."""

from __future__ import annotations

from aiohttp import web


async def index(request: web.Request) -> web.StreamResponse:
    return web.Response(text="<!doctype html><title>My Staff</title>"
                        "<p><a href=\"/auth/login\">Sign in</a></p>", content_type="text/html")


def setup_page_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
