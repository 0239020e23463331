"""Which addresses a webhook may be sent to (SSRF): pure rules on `ipaddress` objects, no I/O;
and what a registered address (a callback URL, an e-mail address) must look like.

A webhook URL is chosen by whoever registers it, and the service sends from inside the cluster, so
an unchecked URL would let anyone make it call internal services or the cloud's metadata endpoint
(which hands out credentials). Refused, at registration and again at every send:

- loopback, private (RFC 1918), link-local, unique-local IPv6 (fc00::/7), shared address space
  (CGNAT, 100.64.0.0/10), multicast, unspecified, reserved, documentation and every other range
  that is not globally routable;
- the same addresses embedded in IPv6: IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002::/16), Teredo
  (2001::/32) and NAT64 (64:ff9b::/96);
- cloud metadata endpoints, always, even inside an allow-listed range.

`WEBHOOK_ALLOWED_NETWORKS` lists ranges that are allowed all the same: tests and local development
whose receivers listen on loopback. Production leaves it empty.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import TypeAlias

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services: AWS (IPv4, IPv6, ECS task metadata), Azure, GCP, Huawei and
# OpenStack (169.254.169.254), Alibaba Cloud (100.100.100.200), Tencent Cloud (169.254.0.23).
METADATA: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.169.254/32",
        "169.254.170.2/32",
        "169.254.0.23/32",
        "100.100.100.200/32",
        "fd00:ec2::254/128",
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(Exception):
    """The host is, or resolves to, an address webhooks may not reach; `reason` says which kind
    (never the address: it may reveal the internal network in logs and events)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DestinationUnresolved(Exception):
    """The host name did not resolve (now): worth another try later."""


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR ranges ("127.0.0.0/8, ::1"); raises ValueError."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def embedded(ip: Address) -> list[Address]:
    """The address itself and any IPv4 address it carries (mapped, 6to4, Teredo, NAT64)."""
    found: list[Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            found.append(ip.sixtofour)
        if ip.teredo is not None:
            found.extend(ip.teredo)
        if ip in _NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _kind(ip: Address) -> str | None:
    """Why one address is not a public destination, or None."""
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip in _CGNAT:
        return "shared address space (CGNAT)"
    if ip in _UNIQUE_LOCAL:
        return "unique-local address"
    if ip.is_reserved:
        return "reserved address"
    if ip.is_private:
        return "private address"
    if not ip.is_global:
        return "address not globally routable"
    return None


# The reasons `refusal` gives, for people who read Chinese first.
REASONS_ZH = {
    "cloud metadata address": "云服务元数据地址",
    "unspecified address": "未指定地址",
    "loopback address": "本机回环地址",
    "link-local address": "链路本地地址",
    "multicast address": "组播地址",
    "shared address space (CGNAT)": "运营商共享地址（CGNAT）",
    "unique-local address": "IPv6 唯一本地地址",
    "private address": "内网地址",
    "reserved address": "保留地址",
    "address not globally routable": "非公网地址",
}


def refusal(ip: Address, allowed: Iterable[Network] = ()) -> str | None:
    """Why a webhook may not be sent to `ip`, or None when it may."""
    carried = embedded(ip)
    if any(a in net for a in carried for net in METADATA if a.version == net.version):
        return "cloud metadata address"
    if any(ip in net for net in allowed if ip.version == net.version):
        return None
    for address in reversed(carried):  # the carried IPv4 address says more than its wrapper
        reason = _kind(address)
        if reason is not None:
            return reason
    return None


# -- what a registered address must look like -----------------------------------------------------

EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def is_email(address: str) -> bool:
    return EMAIL.fullmatch(address) is not None


def callback_url_ok(scheme: str, host: str, userinfo: str, *, allow_http: bool) -> bool:
    """A webhook URL is https (plain http only where allowed: local development and tests), names
    a host and carries no credentials. Where its host may point is `refusal`'s question, asked
    once the name is resolved."""
    schemes = ("https", "http") if allow_http else ("https",)
    return scheme in schemes and bool(host) and not userinfo
