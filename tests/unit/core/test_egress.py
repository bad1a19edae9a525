"""Where webhooks may POST: each policy's bounds, by address and by what a name resolves to."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from onecity.core import egress
from onecity.core.egress import EgressRefused, check_literal, check_resolved, refusal


@pytest.mark.parametrize(
    ("address", "public", "private"),
    [
        ("8.8.8.8", None, None),
        ("2001:4860:4860::8888", None, None),
        ("10.1.2.3", "private", None),
        ("172.16.0.9", "private", None),
        ("192.168.1.10", "private", None),
        ("100.64.3.4", "carrier-grade NAT", "carrier-grade NAT"),  # shared, not the city's
        ("fd12:3456::1", "private", None),  # unique-local IPv6
        ("127.0.0.1", "loopback", "loopback"),
        ("::1", "loopback", "loopback"),
        ("::ffff:127.0.0.1", "loopback", "loopback"),
        ("169.254.169.254", "metadata", "metadata"),
        ("fe80::1", "link-local", "link-local"),
        ("0.0.0.0", "unspecified", "unspecified"),
        ("239.1.2.3", "multicast", "multicast"),
        ("240.0.0.1", "reserved", "reserved"),
        ("0.1.2.3", "special", "special"),
        ("198.18.0.5", "special", "special"),
        ("192.0.0.8", "special", "special"),
        ("fec0::1", "special", "special"),
        ("2002:7f00:1::1", "loopback", "loopback"),  # 6to4 carrying 127.0.0.1
        ("2002:0a00:0001::1", "private", None),  # 6to4 carrying 10.0.0.1
    ],
)
def test_each_policy_s_bounds(address: str, public: str | None, private: str | None) -> None:
    ip = ipaddress.ip_address(address)
    for policy, want in (("public", public), ("private", private)):
        why = refusal(ip, policy)  # type: ignore[arg-type]
        assert (why is None) == (want is None), (policy, address, why)
        if want is not None:
            assert want in (why or "")
    assert refusal(ip, "any") is None


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "127。0。0。1"])
def test_other_spellings_of_loopback_are_refused_when_a_hook_is_made(host: str) -> None:
    assert "loopback" in (check_literal(host, "private") or "")


def test_names_are_not_looked_up_when_a_hook_is_made() -> None:
    assert "server itself" in (check_literal("localhost", "private") or "")
    assert "server itself" in (check_literal("api.localhost", "public") or "")
    assert check_literal("hooks.example.org", "public") is None  # checked at delivery
    assert check_literal("localhost", "any") is None


def test_delivery_refuses_a_name_resolving_out_of_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"inside.example": ["10.0.0.7"], "meta.example": ["93.184.216.34", "169.254.169.254"]}

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(egress.socket, "getaddrinfo", resolve)
    check_resolved("inside.example", 443, "private")
    with pytest.raises(EgressRefused, match="private"):
        check_resolved("inside.example", 443, "public")
    with pytest.raises(EgressRefused, match="metadata"):  # one bad answer is enough
        check_resolved("meta.example", 80, "private")
    with pytest.raises(EgressRefused, match="does not resolve"):
        check_resolved("nowhere.example", 80, "private")
    assert check_resolved("inside.example", 443, "any") == ["10.0.0.7"]
    with pytest.raises(EgressRefused, match="does not resolve"):  # nothing to connect to
        check_resolved("nowhere.example", 80, "any")


@pytest.mark.parametrize(
    ("address", "who"),
    [
        ("169.254.169.254", "AWS, GCP, Azure"),
        ("fd00:ec2::254", "AWS"),
        ("100.100.100.200", "Alibaba"),
        ("168.63.129.16", "Azure"),  # a public address
        ("169.254.0.23", "Tencent"),
        ("192.0.0.192", "Oracle"),
        ("fd20:ce::254", "GCP"),
        ("169.254.170.2", "ECS"),
        ("::ffff:100.100.100.200", "Alibaba"),  # IPv4-mapped
        ("64:ff9b::6464:64c8", "Alibaba"),  # through a NAT64 gateway
    ],
)
def test_cloud_metadata_is_refused_under_every_policy_but_any(address: str, who: str) -> None:
    ip = ipaddress.ip_address(address)
    for policy in ("public", "private"):
        assert who in (refusal(ip, policy) or ""), policy  # type: ignore[arg-type]
        assert who in (check_literal(f"[{address}]" if ":" in address else address, policy) or "")  # type: ignore[arg-type]
    assert refusal(ip, "any") is None


@pytest.mark.parametrize(
    "host", ["metadata.google.internal", "METADATA.google.internal.", "metadata.tencentyun.com"]
)
def test_metadata_names_are_refused_without_a_lookup(host: str) -> None:
    for policy in ("public", "private"):
        assert "metadata service" in (check_literal(host, policy) or "")  # type: ignore[arg-type]
    assert check_literal(host, "any") is None
