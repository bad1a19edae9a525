"""Where the server's own outbound calls (webhooks) may go.

A department operator may point a webhook at any URL. Unguarded, that makes the API server
POST to itself (loopback services), to the cloud's metadata service (link-local
169.254.169.254) or anywhere in the city's network. `Settings.webhook_egress` says where:

* `public`: public addresses only;
* `private` (the default): also the private networks where a city's own systems live
  (RFC 1918, unique-local IPv6, carrier-grade NAT); never loopback, link-local, multicast,
  unspecified or reserved addresses;
* `any`: everywhere (development, and tests with a receiver on 127.0.0.1).

A hook's host is checked when the hook is made if it is an IP literal or `localhost` (no DNS
lookup inside a request), and every address its name resolves to is checked before each
delivery, so a name pointed elsewhere later is caught then. (The connection resolves the name
again: a resolver that answers differently within milliseconds is not stopped by this.)"""

from __future__ import annotations

import ipaddress
import socket
from typing import Literal

Egress = Literal["public", "private", "any"]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Special-purpose blocks (RFC 6890) that are no one's receiver: "this network", protocol
# assignments, documentation and benchmarking ranges, IPv6 site-local (deprecated).
_SPECIAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "fec0::/10",
        "2001:db8::/32",
    )
)


class EgressRefused(Exception):
    """An outbound call to an address the policy does not allow."""


def refusal(ip: IP, policy: Egress) -> str | None:
    """Why `ip` is out of bounds under `policy`, or None."""
    if policy == "any":
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        # an IPv4 address carried in IPv6 (mapped, 6to4) goes where that IPv4 address does
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return refusal(inner, policy)
    for kind, yes in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("special-purpose", any(ip in net for net in _SPECIAL if net.version == ip.version)),
    ):
        if yes:
            return f"{ip} is a {kind} address"
    private = ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    if private and policy == "public":
        return f"{ip} is a private address (webhook_egress is 'public')"
    if not private and not ip.is_global:
        return f"{ip} is not a routable address"
    return None


def check_literal(host: str, policy: Egress) -> str | None:
    """Why a URL's host is out of bounds, when that can be told without DNS: an IP literal,
    or `localhost`. None for other names (checked at delivery)."""
    if policy == "any":
        return None
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is the server itself"
    try:
        # numeric only, no DNS: also the spellings a resolver reads as an address
        # (2130706433, 0x7f.1, 127.1, 0177.0.0.1, full-width dots)
        infos = socket.getaddrinfo(name, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        why = refusal(ipaddress.ip_address(info[4][0]), policy)
        if why is not None:
            return f"{host} ({why})" if str(info[4][0]) != name else why
    return None


def check_resolved(host: str, port: int, policy: Egress) -> None:
    """Resolve `host` and raise EgressRefused if any of its addresses is out of bounds."""
    if policy == "any":
        return
    why = check_literal(host, policy)
    if why is not None:
        raise EgressRefused(why)
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, proto=socket.IPPROTO_TCP)
    except OSError as e:
        raise EgressRefused(f"{host} does not resolve: {e}") from None
    for info in infos:
        why = refusal(ipaddress.ip_address(info[4][0]), policy)
        if why is not None:
            raise EgressRefused(f"{host} resolves to {why}")
