"""``flask --app wsgi sites|moderators|privacy ...``: the operator's commands.

``create`` and ``rotate`` print the key alone on the last line of output so
scripts can take it with ``tail -n 1``; it is shown only this once.
``privacy export`` prints JSON on stdout; ``privacy erase`` and ``purge``
print what they removed, as JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from moderation.errors import ApiError
from moderation.services import services

sites = AppGroup("sites", help="Manage the sites (tenants) allowed to call the API.")


@contextmanager
def _reported() -> Iterator[None]:
    """Our errors as a one-line CLI error (exit 1) instead of a traceback."""
    try:
        yield
    except ApiError as exc:
        raise click.ClickException(
            exc.message if not exc.field else f"{exc.field}: {exc.message}"
        ) from exc


@sites.command("create")
@click.argument("domain")
def create(domain: str) -> None:
    """Create a site and print its new key."""
    with _reported():
        key = services().sites.create(domain)
    click.echo(f"created site {domain.strip().lower()}; its key (shown once):", err=True)
    click.echo(key)


@sites.command("list")
def list_sites() -> None:
    """List sites, their state and cutoff overrides."""
    for site in services().sites.list():
        created = datetime.fromtimestamp(site.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        state = "revoked" if site.revoked else "active"
        overrides = ""
        if site.ham_below is not None or site.spam_above is not None:
            overrides = f"  ham<={site.ham_below}  spam>={site.spam_above}"
        if not site.akismet_enabled:
            overrides += "  akismet off"
        click.echo(f"{site.domain}\t{state}\tcreated {created} UTC{overrides}")


@sites.command("revoke")
@click.argument("domain")
def revoke(domain: str) -> None:
    """Revoke a site's key at once (rotate re-activates the site)."""
    with _reported():
        services().sites.revoke(domain)
    click.echo(f"revoked {domain}")


@sites.command("rotate")
@click.argument("domain")
def rotate(domain: str) -> None:
    """Issue a new key for a site; the old key stops working."""
    with _reported():
        key = services().sites.rotate(domain)
    click.echo(f"new key for {domain} (shown once; the old key no longer works):", err=True)
    click.echo(key)


@sites.command("update")
@click.argument("domain")
@click.option("--ham-below", type=float, help="ham when score <= this (overrides the model's)")
@click.option("--spam-above", type=float, help="spam when score >= this (overrides the model's)")
@click.option("--reset", is_flag=True, help="drop the overrides: use the model's cutoffs")
@click.option("--webhook", help="URL to POST final verdicts of held comments to ('' removes it)")
@click.option("--new-webhook-secret", is_flag=True, help="make a new signing secret")
@click.option(
    "--rate-limit", help="API requests allowed, e.g. 50/second;2000/minute ('' = RATE_LIMIT_SITE)"
)
def update(
    domain: str,
    ham_below: float | None,
    spam_above: float | None,
    reset: bool,
    webhook: str | None,
    new_webhook_secret: bool,
    rate_limit: str | None,
) -> None:
    """Set a site's cutoffs, webhook and rate limit."""
    with _reported():
        svc = services()
        site = svc.sites.set_cutoffs(domain, ham_below, spam_above, reset=reset)
        if rate_limit is not None:
            site = svc.sites.set_rate_limit(domain, rate_limit)
        secret = None
        if webhook is not None or new_webhook_secret:
            url = webhook if webhook is not None else (site.webhook_url or "")
            if new_webhook_secret and not url:
                raise click.UsageError("a webhook secret needs a webhook URL (--webhook URL)")
            secret = svc.sites.set_webhook(domain, url, new_secret=new_webhook_secret)
            site = svc.sites.get(domain)
    click.echo(
        f"{site.domain}: ham_below={site.ham_below} spam_above={site.spam_above}"
        f" (None: the model's cutoff); webhook {site.webhook_url or 'none'};"
        f" rate limit {site.rate_limit or 'RATE_LIMIT_SITE'}",
        err=secret is not None,
    )
    if secret is not None:
        click.echo("webhook signing secret (shown once):", err=True)
        click.echo(secret)


@sites.command("akismet")
@click.argument("domain")
@click.option("--on/--off", "enabled", default=None, help="ask Akismet about uncertain comments")
@click.option("--key", help="the site's own Akismet key ('' = the service's AKISMET_API_KEY)")
@click.option("--blog", help="the blog URL Akismet knows the key by ('' = https://DOMAIN/)")
@click.option("--budget", type=int, help="Akismet calls per month (0 = unlimited)")
@click.option("--fields", help="the only fields Akismet is sent, e.g. content,author ('' = all)")
def akismet(
    domain: str,
    enabled: bool | None,
    key: str | None,
    blog: str | None,
    budget: int | None,
    fields: str | None,
) -> None:
    """Set a site's Akismet fallback: on or off, its own key, blog URL, budget, fields."""
    with _reported():
        site = services().sites.set_akismet(domain, enabled, key, blog, budget, fields)
    budget_text = "service default" if site.akismet_budget is None else str(site.akismet_budget)
    click.echo(
        f"{site.domain}: Akismet {'on' if site.akismet_enabled else 'off'}, "
        f"key {'own' if site.akismet_key else 'service'}, "
        f"blog {site.akismet_blog or 'default'}, budget {budget_text}, "
        f"fields {','.join(site.akismet_fields) if site.akismet_fields else 'all'}"
    )


moderators = AppGroup("moderators", help="Manage moderator accounts.")


@moderators.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="may see every site")
@click.option("--sites", default="", help="comma-separated domains this moderator may see")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create_moderator(name: str, admin: bool, sites: str, password_stdin: bool) -> None:
    """Create a moderator account (the password is asked for, or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    domains = [s for s in (part.strip() for part in sites.split(",")) if s]
    if not admin and not domains:
        raise click.UsageError("give --sites a.example,b.example or --admin")
    with _reported():
        moderator = services().moderators.create(name, password, admin=admin, sites=domains)
    scope = "all sites" if moderator.admin else ", ".join(sorted(moderator.sites))
    click.echo(f"created moderator {moderator.name} ({scope})")


@moderators.command("list")
def list_moderators() -> None:
    """List moderators, their sites and state."""
    for moderator in services().moderators.list():
        state = "disabled" if moderator.disabled else "active"
        scope = "admin (all sites)" if moderator.admin else ",".join(sorted(moderator.sites))
        click.echo(f"{moderator.name}\t{state}\t{scope}")


@moderators.command("disable")
@click.argument("name")
def disable_moderator(name: str) -> None:
    """Disable an account at once (its tokens stop working)."""
    with _reported():
        services().moderators.disable(name)
    click.echo(f"disabled {name}")


privacy = AppGroup("privacy", help="Commenters' personal data: retention, export, erasure.")


@privacy.command("purge")
def purge() -> None:
    """Apply RETENTION_DAYS and COMMENT_RETENTION_DAYS now (the nightly job does)."""
    purged = services().personal.purge()
    click.echo(json.dumps(purged.as_dict()))


@privacy.command("export")
@click.option("--email", required=True, help="the commenter's e-mail address")
def export(email: str) -> None:
    """Everything stored about one commenter, as JSON on stdout."""
    with _reported():
        found = services().personal.export(email)
    body = {
        "email": email.strip().lower(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stores": found.__dict__,
        "counts": found.counts(),
    }
    click.echo(json.dumps(body, indent=2, ensure_ascii=False, default=str))


@privacy.command("erase")
@click.option("--email", required=True, help="the commenter's e-mail address")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def erase(email: str, yes: bool) -> None:
    """Remove one commenter's comments and labels everywhere they are kept."""
    if not yes:
        click.confirm(f"Erase everything stored about {email}?", abort=True, err=True)
    with _reported():
        gone = services().personal.erase(email)
    click.echo(json.dumps({"erased": gone.counts()}))


def init_app(app: Flask) -> None:
    app.cli.add_command(sites)
    app.cli.add_command(moderators)
    app.cli.add_command(privacy)
