"""Typed per-request storage keys (aiohttp's RequestKey)."""

from __future__ import annotations

from aiohttp import web

from mystaff_proxy.auth.sessions import Session

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
SESSION: web.RequestKey[Session] = web.RequestKey("session", Session)
