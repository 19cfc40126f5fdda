"""A tiny router for the ``/v1.0`` resources: method + path template -> handler.

Paths are normalised the way real Graph tolerates them before matching:
- duplicate slashes merged (msgraph-sdk sends ``/v1.0//users/...``: httpx gives ``base_url``
  a trailing slash and the SDK's URL templates add another);
- a trailing slash dropped;
- key segments ``users('x@y')`` rewritten to ``users/x@y``;
- OData casts accepted as ``microsoft.graph.user`` and the short ``graph.user`` (msgraph-sdk's
  form), both rewritten to the long form so route templates only name one.

Templates are written ``/users/{user}/authentication/phoneMethods/{method}``; a ``{name}``
matches one segment, captured percent-decoded; ``{cast}`` matches only ``microsoft.graph.*``.
Literal segments match case-insensitively, as Graph's do.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from ..errors import GraphErrorResult
from .context import GraphRequest, GraphResponse

Handler = Callable[[GraphRequest], Awaitable[GraphResponse]]

_KEY_SEGMENT = re.compile(r"^([A-Za-z]+)\('([^']*)'\)$")
_CAST_SEGMENT = re.compile(r"^(?:microsoft\.)?graph\.([A-Za-z]+)$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def normalize_path(raw_path: str) -> str:
    """The path with ``//`` merged, no trailing slash, key segments split and casts long-form.

    ``raw_path`` is still percent-encoded; so is the result (segments are decoded on capture,
    so that an encoded ``/`` inside a UPN never splits a segment).
    """
    out: list[str] = []
    for segment in raw_path.split("/"):
        if not segment:
            continue
        key = _KEY_SEGMENT.match(segment)
        if key:
            out += [key.group(1), key.group(2)]
            continue
        cast = _CAST_SEGMENT.match(segment)
        if cast:
            out.append("microsoft.graph." + cast.group(1))
            continue
        out.append(segment)
    return "/" + "/".join(out)


def _compile(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[pos:m.start()]))
        name = m.group(1)
        # {cast} only matches an OData cast segment, so ".../members/{cast}" never captures
        # an object id (".../members/{member}").
        segment = r"microsoft\.graph\.[A-Za-z]+" if name == "cast" else "[^/]+"
        parts.append(f"(?P<{name}>{segment})")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


class Router:
    """Routes in registration order; the first whose template matches the path wins."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        self._routes.append(Route(method.upper(), template, _compile(template), handler))

    def get(self, template: str, handler: Handler) -> None:
        self.add("GET", template, handler)

    def post(self, template: str, handler: Handler) -> None:
        self.add("POST", template, handler)

    def patch(self, template: str, handler: Handler) -> None:
        self.add("PATCH", template, handler)

    def delete(self, template: str, handler: Handler) -> None:
        self.add("DELETE", template, handler)

    def match(self, method: str, path: str) -> Match:
        """The route for a normalised path; 404/405 Graph errors when there is none."""
        path_matched = False
        for route in self._routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            path_matched = True
            if route.method == method.upper():
                return Match(route, {k: unquote(v) for k, v in m.groupdict().items()})
        if path_matched:
            raise GraphErrorResult(405, "Request_BadRequest",
                                   "Specified HTTP method is not allowed for the request target.")
        raise GraphErrorResult(400, "BadRequest",
                               f"Resource not found for the segment '{_last_segment(path)}'.")

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)


def _last_segment(path: str) -> str:
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])
