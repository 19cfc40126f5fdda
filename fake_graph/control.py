"""(being written)"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register /_fake routes."""
