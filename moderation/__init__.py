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


def _first_start(svc: Services) -> None:
    """Make the ``localhost`` site on the very first start and show its key once."""
    try:
        key = svc.sites.bootstrap()
    except Exception as exc:  # Redis trouble at start is reported by /readyz
        log.warning("could not check for a first site: %s", exc)
        return
    if key is not None:
        log.warning("first start: created site 'localhost' with key %s (shown once)", key)
        password = secrets.token_urlsafe(12)
        try:
            svc.moderators.create("admin", password, admin=True)
        except Exception as exc:  # an admin made by hand before the first start
            log.warning("first start: no admin account made: %s", exc)
            return
        log.warning(
            "first start: moderator 'admin' with password %s (shown once) - log in at "
            "http://%s:%s/moderate",
            password,
            svc.settings.host,
            svc.settings.port,
        )
