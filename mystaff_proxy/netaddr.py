"""The client's address and scheme, trusting ``X-Forwarded-*`` only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _in(addr: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """The peer, or the right-most untrusted hop of X-Forwarded-For when the peer is trusted."""
    peer = request.remote or ""
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def address_block(addr: str) -> str:
    """The unit that per-address limits count: an IPv4 address, or an IPv6 address's /64.

    One IPv6 subscriber usually holds a whole /64 (often far more), so counting single IPv6
    addresses would give one client 2**64 budgets. IPv4-mapped IPv6 counts as its IPv4
    address. Anything unparsable is kept as it is (the peer's own address, never a header).
    """
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_scheme(request: web.Request, trusted: tuple[Network, ...]) -> str:
    peer = request.remote or ""
    if trusted and _in(peer, trusted):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            return proto
    return request.scheme
