"""Who a client is, for counting: one machine is one client, whatever address it picks."""

from __future__ import annotations

import ipaddress


def network(address: str) -> str:
    """The network an address stands for: an IPv4 address itself, an IPv6 address's /64 (one
    machine or home gets a whole /64 and may use any address in it). Anything else (a test
    client's name, a local socket) is kept as given, shortened; nothing at all is "unknown"."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
