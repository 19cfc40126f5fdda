"""Entra object ids (GUIDs): the one check every layer uses — the configuration, the policy,
the Graph client's URL paths, and the audit records of refused requests."""

from __future__ import annotations

import re
import uuid
from typing import Final

# fullmatch, never ``^...$``: ``$`` also matches before a final newline, and an id such as
# "<guid>\n" (``%0A`` in a URL) then passed this check and failed later, in uuid.UUID (a 500).
_GUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def is_guid(value: str) -> bool:
    """Whether ``value`` is a GUID, in either case, with nothing before or after it."""
    return _GUID.fullmatch(value) is not None


def canonical_guid(value: str) -> str:
    """An id for a URL path: only a well-formed GUID, lower-cased, never anything a client
    could bend into another path. Raises ValueError otherwise."""
    if not is_guid(value):
        raise ValueError("not an object id")
    return str(uuid.UUID(value))
