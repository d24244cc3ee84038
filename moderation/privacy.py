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

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any

from training.normalize import host_of

IPV4_PREFIX, IPV6_PREFIX = 24, 48


def keyed_hash(secret: bytes, value: str) -> str:
    """HMAC-SHA256 of an identity with the deployment's secret (128 bits, hex):
    equal identities match, and without the secret it reveals nothing."""
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


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


# What identifies or describes the commenter rather than the comment: removed
# from stored comments after RETENTION_DAYS.
PERSONAL_FIELDS = (
    "author",
    "author_email",
    "author_url",
    "user_ip",
    "user_ip_hash",
    "user_ip_prefix",
    "user_agent",
    "referrer",
    "user_role",
)
# What training reads of a comment (training/features.py): the label dataset
# keeps these, the author's links and e-mail reduced to their domains.
TRAINING_FIELDS = ("content", "author", "comment_type", "lang", "is_test", "created_at")


def email_of(value: Any) -> str:
    """The form an address is matched and hashed in: trimmed, lower case."""
    return str(value or "").strip().lower()


def without_personal(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A stored comment's fields after RETENTION_DAYS: the comment, not its author."""
    return {k: v for k, v in fields.items() if k not in PERSONAL_FIELDS}


def training_fields(fields: Mapping[str, Any], hashed: Callable[[str], str]) -> dict[str, Any]:
    """The fields a label keeps on disk: what the featurizer reads, nothing
    more (features of the result equal those of the original - a property
    test holds us to it), plus a keyed hash of the e-mail so that
    ``privacy erase`` can still find the label."""
    out = {k: fields[k] for k in TRAINING_FIELDS if k in fields}
    url = str(fields.get("author_url") or "").strip()
    if url:
        host = host_of(url)  # as the featurizer reads it, which drops one "www."
        out["author_url"] = (
            f"http://{'www.' if host.startswith('www.') else ''}{host}/" if host else "/"
        )
    email = email_of(fields.get("author_email"))
    if email:
        out["author_email"] = "@" + email.rsplit("@", 1)[-1] if "@" in email else ""
        out["author_email_hash"] = hashed(email)
    elif fields.get("author_email_hash"):
        out["author_email_hash"] = fields["author_email_hash"]
    return out


def is_about(fields: Mapping[str, Any], email: str, email_hash: str) -> bool:
    """Whether stored fields belong to the commenter with this address."""
    return email_of(fields.get("author_email")) == email or (
        fields.get("author_email_hash") == email_hash
    )


def minimal_label(entry: Mapping[str, Any], hashed: Callable[[str], str]) -> dict[str, Any]:
    """A label as the dataset on disk keeps it: its comment's fields reduced
    to :func:`training_fields` (who labelled it, when and how stay)."""
    out = dict(entry)
    try:
        fields = json.loads(out.get("fields") or "{}")
    except ValueError:
        return out
    if isinstance(fields, dict):
        out["fields"] = json.dumps(training_fields(fields, hashed), ensure_ascii=False)
    return out


def label_is_about(entry: Mapping[str, Any], email: str, email_hash: str) -> bool:
    try:
        fields = json.loads(entry.get("fields") or "{}")
    except ValueError:
        return False
    return isinstance(fields, dict) and is_about(fields, email, email_hash)
