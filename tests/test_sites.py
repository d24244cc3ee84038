"""Sites and keys: hashing, authentication, revocation, rotation, the CLI."""

from __future__ import annotations

import time

import pytest
from flask import Flask

from moderation.errors import AuthError, Conflict, NotFound, ValidationError
from moderation.services import Services
from moderation.sites import SiteRegistry, hash_key


def test_key_is_stored_only_hashed(svc: Services) -> None:
    key = svc.sites.create("blog.example")
    dump = []
    for name in svc.redis.scan_iter(match=svc.keys.pattern()):
        kind = svc.redis.type(name)
        if kind == "hash":
            dump.extend(svc.redis.hgetall(name).values())
        elif kind == "string":
            dump.append(svc.redis.get(name))
        dump.append(name)
    assert not any(key in str(value) for value in dump)
    assert any(hash_key(key) in str(value) for value in dump)


def test_authenticate(svc: Services) -> None:
    key = svc.sites.create("Blog.Example.")
    site = svc.sites.authenticate(key)
    assert site.domain == "blog.example" and not site.revoked
    with pytest.raises(AuthError):
        svc.sites.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B"))


def test_revoke_then_rotate(svc: Services) -> None:
    key = svc.sites.create("blog.example")
    svc.sites.revoke("blog.example")
    with pytest.raises(AuthError):
        svc.sites.authenticate(key)
    assert svc.sites.get("blog.example").revoked
    new_key = svc.sites.rotate("blog.example")
    assert svc.sites.authenticate(new_key).domain == "blog.example"
    with pytest.raises(AuthError):
        svc.sites.authenticate(key)


def test_rotate_invalidates_the_old_key(svc: Services) -> None:
    old = svc.sites.create("blog.example")
    new = svc.sites.rotate("blog.example")
    assert new != old
    with pytest.raises(AuthError):
        svc.sites.authenticate(old)
    assert svc.sites.authenticate(new).domain == "blog.example"


def test_create_twice_conflicts_and_bad_domains_are_refused(svc: Services) -> None:
    svc.sites.create("blog.example")
    with pytest.raises(Conflict):
        svc.sites.create("blog.example")
    for bad in ("", "has space.example", "{tag}", "-x.example", "a..b", "x" * 254):
        with pytest.raises(ValidationError):
            svc.sites.create(bad)
    with pytest.raises(NotFound):
        svc.sites.revoke("missing.example")


def test_cutoff_overrides(svc: Services) -> None:
    svc.sites.create("blog.example")
    site = svc.sites.set_cutoffs("blog.example", 0.1, 0.7)
    assert (site.ham_below, site.spam_above) == (0.1, 0.7)
    with pytest.raises(ValidationError):
        svc.sites.set_cutoffs("blog.example", 0.8, None)  # above spam_above
    with pytest.raises(ValidationError):
        svc.sites.set_cutoffs("blog.example", None, 1.5)
    site = svc.sites.set_cutoffs("blog.example", None, None, reset=True)
    assert (site.ham_below, site.spam_above) == (None, None)


def test_first_start_creates_localhost_once(svc: Services) -> None:
    # The app fixture's start already made it (no site existed in this prefix).
    assert [s.domain for s in svc.sites.list()] == ["localhost"]
    assert svc.sites.bootstrap() is None
    svc.sites.revoke("localhost")
    assert svc.sites.bootstrap() is None, "only ever once per deployment"


def test_cli_create_prints_key_last(app: Flask, svc: Services) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sites", "create", "blog.example"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert svc.sites.authenticate(key).domain == "blog.example"
    again = runner.invoke(args=["sites", "create", "blog.example"])
    assert again.exit_code != 0 and "exists" in again.output


def test_cli_list_revoke_rotate_update(app: Flask, svc: Services) -> None:
    runner = app.test_cli_runner()
    key = runner.invoke(args=["sites", "create", "a.example"]).stdout.strip().splitlines()[-1]
    listed = runner.invoke(args=["sites", "list"]).stdout
    assert "a.example\tactive" in listed
    assert runner.invoke(args=["sites", "revoke", "a.example"]).exit_code == 0
    assert "a.example\trevoked" in runner.invoke(args=["sites", "list"]).stdout
    rotated = runner.invoke(args=["sites", "rotate", "a.example"])
    new_key = rotated.stdout.strip().splitlines()[-1]
    assert new_key != key and svc.sites.authenticate(new_key).domain == "a.example"
    updated = runner.invoke(
        args=["sites", "update", "a.example", "--ham-below", "0.1", "--spam-above", "0.6"]
    )
    assert updated.exit_code == 0, updated.output
    assert svc.sites.get("a.example").spam_above == 0.6
    bad = runner.invoke(args=["sites", "update", "a.example", "--ham-below", "0.9"])
    assert bad.exit_code != 0 and "ham_below" in bad.output
    missing = runner.invoke(args=["sites", "revoke", "nope.example"])
    assert missing.exit_code != 0 and "no site" in missing.output


def test_a_checked_key_is_trusted_for_a_while_without_redis(svc: Services) -> None:
    """Within SITE_CACHE_SECONDS a key needs no round trip; a change made in
    another process (another registry on the same Redis) applies after it,
    one made through this registry at once."""
    here = SiteRegistry(svc.redis, svc.keys, fresh_seconds=0.3)
    elsewhere = SiteRegistry(svc.redis, svc.keys, fresh_seconds=0.3)
    key = here.create("blog.example")
    here.authenticate(key)
    calls = svc.redis.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert here.authenticate(key).domain == "blog.example"
    assert svc.redis.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0) == calls
    elsewhere.revoke("blog.example")
    assert here.authenticate(key).domain == "blog.example"  # stale, within the window
    time.sleep(0.35)
    with pytest.raises(AuthError):
        here.authenticate(key)
    new_key = here.rotate("blog.example")
    here.authenticate(new_key)
    here.set_cutoffs("blog.example", 0.2, 0.9)  # through this registry: seen at once
    assert here.authenticate(new_key).spam_above == 0.9
