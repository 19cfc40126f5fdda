"""HTML answers outside the JSON API: error pages for sign-in and the page routes.

(The managers' page itself is built on top of this module; see the web page issue.)
"""

from __future__ import annotations

import html

from aiohttp import web

from .errors import CODES, MESSAGES

_EXTRA_MESSAGES = {
    "sign_in_failed": "The sign-in did not complete. Start again from the sign-in page.",
}
_TITLES = {
    "unauthenticated": "Please sign in",
    "insufficient_permissions": "Insufficient permissions",
    "not_found": "Not found",
    "forbidden": "Not allowed here",
    "protected_user": "Protected account",
    "csrf_failed": "This form has expired",
    "rate_limited": "Too many changes",
    "upstream_unavailable": "Microsoft Entra ID is not answering",
    "sign_in_failed": "Sign-in failed",
}


class Pages:
    def error(self, request: web.Request, code: str, *, detail: str | None = None,
              retry_after: float | None = None) -> web.Response:
        status = CODES.get(code, 400)
        message = detail or MESSAGES.get(code) or _EXTRA_MESSAGES.get(code, "Something failed.")
        title = _TITLES.get(code, "Something went wrong")
        body = (
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)} – My Staff</title></head><body><main>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
            "<p><a href=\"/\">Back to My Staff</a></p>"
            f"<p><small>Request id: {html.escape(str(request.get('request_id', '')))}"
            "</small></p></main></body></html>"
        )
        response = web.Response(text=body, status=status, content_type="text/html")
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
        return response
