"""Where the server's own outbound calls (webhooks) may go.

A department operator may point a webhook at any URL. Unguarded, that makes the API server
POST to itself (loopback services), to the cloud's metadata service (link-local
169.254.169.254) or anywhere in the city's network. `Settings.webhook_egress` says where:

* `public`: public addresses only;
* `private` (the default): also the private networks where a city's own systems live
  (RFC 1918, unique-local IPv6); never loopback, link-local, multicast, unspecified, reserved
  or special-purpose addresses, nor carrier-grade NAT (100.64.0.0/10: shared by carriers and
  clouds, e.g. Alibaba's metadata service, not a city's own network);
* `public`: public addresses only;
* `any`: everywhere (development, and tests with a receiver on 127.0.0.1).

Under every policy but `any` the clouds' metadata services (`METADATA_ADDRESSES`,
`METADATA_NAMES`) are refused by name and by address, whatever range they sit in (Azure's
168.63.129.16 is a public address).

A hook's host is checked when the hook is made if it is an IP literal or a known name (no DNS
lookup inside a request). Before each delivery its name is resolved once, every address is
checked, and the connection goes to one of those addresses (`check_resolved`'s answer), never
to the name again: a name that answers differently a moment later (DNS rebinding) cannot
steer the connection elsewhere."""

from __future__ import annotations

import ipaddress
import socket
from typing import Literal

Egress = Literal["public", "private", "any"]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv6 that a NAT64 gateway turns into IPv4

# Cloud instance-metadata services: credentials and user data of the machine the API runs
# on. Keep this list up to date when a provider adds one.
METADATA_ADDRESSES: dict[IP, str] = {
    ipaddress.ip_address(a): who
    for a, who in (
        # AWS, GCP, Azure IMDS, Oracle, DigitalOcean, OpenStack, Hetzner, Linode, Vultr...
        ("169.254.169.254", "the cloud metadata service (AWS, GCP, Azure, Oracle, ...)"),
        ("fd00:ec2::254", "AWS's IPv6 metadata service"),
        ("169.254.170.2", "AWS ECS task metadata"),
        ("169.254.170.23", "AWS EKS pod identity"),
        ("fd00:ec2::23", "AWS EKS pod identity (IPv6)"),
        ("169.254.169.253", "AWS's VPC DNS resolver"),
        ("fd00:ec2::253", "AWS's VPC DNS resolver (IPv6)"),
        ("fd20:ce::254", "GCP's IPv6 metadata service"),
        ("168.63.129.16", "Azure's WireServer and platform endpoint"),
        ("100.100.100.200", "Alibaba Cloud's metadata service"),
        ("192.0.0.192", "Oracle Cloud's legacy metadata service"),
        ("169.254.0.23", "Tencent Cloud's metadata service"),
        ("169.254.42.42", "Scaleway's metadata service"),
    )
}
METADATA_NAMES: dict[str, str] = {
    "metadata.google.internal": "GCP's metadata service",
    "metadata.goog": "GCP's metadata service",
    "metadata": "GCP's metadata service (short name)",
    "instance-data": "AWS's metadata service",
    "instance-data.ec2.internal": "AWS's metadata service",
    "metadata.tencentyun.com": "Tencent Cloud's metadata service",
    "metadata.platformequinix.com": "Equinix Metal's metadata service",
    "metadata.packet.net": "Equinix Metal's metadata service",
}
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
        # an IPv4 address carried in IPv6 (mapped, 6to4, NAT64) goes where that IPv4 address does
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return refusal(inner, policy)
    if ip in METADATA_ADDRESSES:
        return f"{ip} is {METADATA_ADDRESSES[ip]}"
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
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return f"{ip} is a carrier-grade NAT address (shared by carriers and clouds)"
    if ip.is_private and policy == "public":
        return f"{ip} is a private address (webhook_egress is 'public')"
    if not ip.is_private and not ip.is_global:
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
    if name in METADATA_NAMES:
        return f"{host} is {METADATA_NAMES[name]}"
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


def check_resolved(host: str, port: int, policy: Egress) -> list[str]:
    """Resolve `host` once and return its addresses, raising EgressRefused if any of them is
    out of bounds (under `any` none is). Connect to one of these, never to the name again."""
    why = check_literal(host, policy)
    if why is not None:
        raise EgressRefused(why)
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as e:
        raise EgressRefused(f"{host} does not resolve: {e}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise EgressRefused(f"{host} does not resolve")
    for address in addresses:
        why = refusal(ipaddress.ip_address(address.split("%", 1)[0]), policy)
        if why is not None:
            raise EgressRefused(f"{host} resolves to {why}")
    return addresses
