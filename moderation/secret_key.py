"""The deployment's secret: keys the hashes of IPs and e-mail addresses
(velocity), and later the moderators' session cookies.

``SECRET_KEY`` when set; otherwise a random one made on first start in
``VAR_DIR/secret_key`` (mode 0600) and kept there, so every worker and every
restart of one machine agrees on it. Deliberately not in Redis: a copy of
the database alone must not be enough to test which IP wrote what.
"""

from __future__ import annotations

import os
import secrets

from moderation.settings import Settings


def load(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = settings.var_dir / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_bytes().strip()
