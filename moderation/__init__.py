"""The comment-moderation service: ``create_app`` wires everything together."""

from __future__ import annotations

import atexit
import logging
import os
import secrets
from typing import TYPE_CHECKING

from moderation.settings import Settings

if TYPE_CHECKING:
    from flask import Flask

    from moderation.services import Services

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, load_model: bool = True) -> Flask:
    """Build the app. Without ``settings`` they are read from the environment,
    and a bad value raises SettingsError naming the variable. The background
    worker passes ``load_model=False``: it scores nothing."""
    # Imported here, not at the top: the gunicorn config imports this package
    # in the master before it sets PROMETHEUS_MULTIPROC_DIR, and
    # prometheus_client fixes its value store when first imported.
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from moderation import (
        akismet_api,
        api,
        cli,
        errors,
        ops,
        redis_server,
        review_api,
        secret_key,
        web,
    )
    from moderation.services import Services

    if settings is None:
        settings = Settings.from_env(os.environ)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.trust_proxy_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trust_proxy_hops,
            x_proto=settings.trust_proxy_hops,
            x_host=settings.trust_proxy_hops,
        )

    client, embedded = redis_server.connect(settings)
    if embedded is not None and embedded.started_here:
        # No gunicorn master owns the server (a CLI command, the dev server):
        # stop it on exit unless the service is using it meanwhile. Our own
        # connections go first, or they count as "in use" and the server is
        # left running after every CLI command.
        def stop_embedded() -> None:
            client.connection_pool.disconnect()
            embedded.stop()

        atexit.register(stop_embedded)
    svc = Services.build(settings, client, embedded)
    app.extensions["moderation"] = svc

    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(akismet_api.bp)
    app.register_blueprint(review_api.bp)
    app.secret_key = secret_key.load(settings)
    web.init_app(app, exempt=(api.bp, akismet_api.bp, review_api.bp))
    app.register_blueprint(ops.bp)
    cli.init_app(app)

    if load_model:
        svc.model.refresh()
    _first_start(svc)
    return app


FIRST_START_FILE = "first-start.txt"


def _first_start(svc: Services) -> None:
    """Make the ``localhost`` site and an ``admin`` moderator on the very first
    start. Their key and password go to ``VAR_DIR/first-start.txt`` (mode
    0600), never to the log: logs are copied, shipped and kept."""
    try:
        key = svc.sites.bootstrap()
    except Exception as exc:  # Redis trouble at start is reported by /readyz
        log.warning("could not check for a first site: %s", exc)
        return
    if key is None:
        return
    lines = [f"site localhost, key: {key}"]
    password = secrets.token_urlsafe(12)
    try:
        svc.moderators.create("admin", password, admin=True)
        url = f"http://{svc.settings.host}:{svc.settings.port}/moderate"
        lines.append(f"moderator admin, password: {password} (log in at {url})")
    except Exception as exc:  # an admin made by hand before the first start
        log.warning("first start: no admin account made: %s", exc)
    path = svc.settings.var_dir / FIRST_START_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # in case it existed with other permissions
    with os.fdopen(fd, "w") as out:
        out.write("# Made on the first start; shown here once. Copy, then delete this file.\n")
        out.write("\n".join(lines) + "\n")
    log.warning("first start: created site 'localhost' and moderator 'admin'; key and"
                " password in %s (copy them, then delete the file)", path.resolve())  # fmt: skip
