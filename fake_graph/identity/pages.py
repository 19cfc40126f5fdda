"""HTML pages of the sign-in flow: Jinja2 templates (autoescaped) with a strict CSP.

No external assets and no script, except the one nonce'd line that auto-submits a
``form_post`` response (a ``noscript`` button covers browsers without script). ``form-action``
lists the client's origin too: browsers apply it to the redirect that follows a form POST.
"""

from __future__ import annotations

import secrets
from typing import Any

import jinja2
from aiohttp import web

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("fake_graph", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(template: str, **context: Any) -> str:
    context.setdefault("nonce", secrets.token_urlsafe(16))
    return _ENV.get_template(template).render(**context)


def html_response(html: str, *, nonce: str, form_action: str | None = None,
                  status: int = 200) -> web.Response:
    actions = " ".join(a for a in ("'self'", form_action) if a)
    csp = (f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
           f"form-action {actions}; frame-ancestors 'none'; base-uri 'none'")
    return web.Response(text=html, status=status, content_type="text/html", headers={
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    })


def page(template: str, *, status: int = 200, form_action: str | None = None,
         **context: Any) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    return html_response(render(template, nonce=nonce, **context), nonce=nonce,
                         form_action=form_action, status=status)
