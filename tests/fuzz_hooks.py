"""schemathesis hooks for ``make fuzz`` (loaded through SCHEMATHESIS_HOOKS by tests/fuzz.py).

Each operation gets the credential its security scheme names: the site key
for the blogs' API, a moderator token for the moderators'. Logout ends the
token it is sent, so it gets its own, logged in afresh once a second (a
login costs a deliberately slow password check): the rest of that second's
logouts answer 401, as they should. The credentials come from the
environment tests/fuzz.py sets.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

LOGOUT = "/api/v1/auth/logout"


def _operation_path(case: Any, context: Any) -> str:
    return str(context.operation.path)


@schemathesis.auth(refresh_interval=1, cache_by_key=_operation_path, retry_on=[]).skip_for(
    path="/api/v1/auth/login"
)
class Credentials:
    def get(self, case: Any, context: Any) -> str:
        path = context.operation.path
        if path == LOGOUT:
            answer = requests.post(
                os.environ["FUZZ_URL"] + "/api/v1/auth/login",
                json={"username": os.environ["FUZZ_USER"], "password": os.environ["FUZZ_PASSWORD"]},
                timeout=10,
            )
            answer.raise_for_status()
            return str(answer.json()["token"])
        if path.startswith("/api/v1/comments"):
            return os.environ["FUZZ_SITE_KEY"]
        return os.environ["FUZZ_TOKEN"]

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
