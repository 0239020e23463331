"""Which addresses webhooks may reach (services/notifications/domain/destinations.py)."""

from __future__ import annotations

import ipaddress

import pytest

from services.notifications.domain import destinations

REFUSED = {
    "127.0.0.1": "loopback address",
    "127.8.9.10": "loopback address",
    "::1": "loopback address",
    "10.1.2.3": "private address",
    "172.16.0.1": "private address",
    "192.168.1.1": "private address",
    "169.254.1.1": "link-local address",
    "fe80::1": "link-local address",
    "fc00::1": "unique-local address",
    "fd12:3456::1": "unique-local address",
    "100.64.0.1": "shared address space (CGNAT)",
    "224.0.0.1": "multicast address",
    "239.255.255.250": "multicast address",
    "ff02::1": "multicast address",
    "0.0.0.0": "unspecified address",  # noqa: S104 - a value under test
    "::": "unspecified address",
    "240.0.0.1": "reserved address",
    "255.255.255.255": "reserved address",
    "192.0.2.10": "private address",  # documentation (TEST-NET-1)
    "169.254.169.254": "cloud metadata address",
    "169.254.170.2": "cloud metadata address",
    "100.100.100.200": "cloud metadata address",
    "fd00:ec2::254": "cloud metadata address",
    # IPv4 carried in IPv6
    "::ffff:127.0.0.1": "loopback address",
    "::ffff:169.254.169.254": "cloud metadata address",
    "2002:c0a8:0101::1": "private address",  # 6to4 of 192.168.1.1
    "64:ff9b::a00:1": "private address",  # NAT64 of 10.0.0.1
}
ALLOWED = ("8.8.8.8", "93.184.215.14", "2001:4860:4860::8888", "2400:3200::1")


@pytest.mark.parametrize(("address", "reason"), REFUSED.items())
def test_internal_and_special_addresses_are_refused(address: str, reason: str) -> None:
    assert destinations.refusal(ipaddress.ip_address(address)) == reason
    assert reason in destinations.REASONS_ZH


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert destinations.refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_opens_its_ranges_but_never_metadata() -> None:
    allowed = destinations.parse_networks(" 127.0.0.0/8, 169.254.0.0/16 ,::1")
    assert destinations.refusal(ipaddress.ip_address("127.0.0.5"), allowed) is None
    assert destinations.refusal(ipaddress.ip_address("::1"), allowed) is None
    assert destinations.refusal(ipaddress.ip_address("169.254.1.1"), allowed) is None
    assert (
        destinations.refusal(ipaddress.ip_address("169.254.169.254"), allowed)
        == "cloud metadata address"
    )
    assert destinations.refusal(ipaddress.ip_address("10.0.0.1"), allowed) == "private address"
    assert destinations.parse_networks("") == ()
    with pytest.raises(ValueError, match="does not appear"):
        destinations.parse_networks("127.0.0.0/8, localhost")
