"""What of a commenter's personal data is kept: the fields as stored (pure).

A check needs the commenter's IP address while it runs (Akismet is sent it,
velocity counts it under a keyed hash), but nothing needs it afterwards in
clear. So a stored comment - in Redis, the labels stream, the label dataset,
the spool - carries ``user_ip_hash`` instead: HMAC-SHA256 of the address
with the deployment's secret (the same keyed hash velocity counts under),
enough to see that two comments came from one address and useless without
the secret. ``IP_PREFIX=1`` also keeps the network - ``/24`` of an IPv4
address, ``/48`` of an IPv6 one - for moderators who read addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

IPV4_PREFIX, IPV6_PREFIX = 24, 48


def ip_prefix(address: str) -> str | None:
    """``203.0.113.7`` -> ``203.0.113.0/24``; ``2001:db8:1:2::5`` -> ``2001:db8:1::/48``."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    bits = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def stored_fields(
    fields: Mapping[str, Any], hashed: Callable[[str], str], keep_prefix: bool = False
) -> dict[str, Any]:
    """The comment's fields as they may be stored: the IP address replaced by
    its keyed hash (and its network, with ``keep_prefix``)."""
    out = dict(fields)
    address = out.pop("user_ip", None)
    if address:
        out["user_ip_hash"] = hashed(str(address))
        if keep_prefix and (prefix := ip_prefix(str(address))):
            out["user_ip_prefix"] = prefix
    return out
