"""Settings read once from the environment; a bad value names its variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from moderation import create_app
from moderation.errors import SettingsError
from moderation.settings import RedisNodes, Settings, redis_nodes

README = Path(__file__).parent.parent / "README.md"


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url is None and settings.embedded_redis
    assert (settings.redis_prefix, settings.port, settings.models_dir) == (
        "modr:",
        8000,
        Path("models"),
    )


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {"REDIS_URL": "redis://127.0.0.1:6379/2", "PORT": "9000", "REDIS_PREFIX": "x:"}
    )
    assert (settings.redis_url, settings.port, settings.redis_prefix) == (
        "redis://127.0.0.1:6379/2",
        9000,
        "x:",
    )


def test_several_redis_nodes_are_parsed() -> None:
    assert redis_nodes("rediss://ops:p%40ss@10.0.0.1:7000,node2,[::1]:7002/3", 6379) == RedisNodes(
        hosts=(("10.0.0.1", 7000), ("node2", 6379), ("::1", 7002)),
        username="ops",
        password="p@ss",
        db=3,
        tls=True,
    )
    cluster = Settings.from_env({"REDIS_URL": "redis://a:7000,b:7001", "REDIS_CLUSTER": "1"})
    assert cluster.redis_cluster and not cluster.embedded_redis
    sentinel = Settings.from_env({"REDIS_URL": "redis://s1,s2", "REDIS_SENTINEL": "mymaster"})
    assert sentinel.redis_sentinel == "mymaster"
    assert redis_nodes(str(sentinel.redis_url), 26379).hosts == (("s1", 26379), ("s2", 26379))


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"REDIS_CLUSTER": "1"}, "REDIS_CLUSTER"),  # which nodes?
        ({"REDIS_SENTINEL": "mymaster"}, "REDIS_SENTINEL"),
        ({"REDIS_CLUSTER": "1", "REDIS_URL": "unix:///tmp/r.sock"}, "REDIS_CLUSTER"),
        ({"REDIS_CLUSTER": "1", "REDIS_SENTINEL": "m", "REDIS_URL": "redis://a"}, "REDIS_SENTINEL"),
        ({"REDIS_CLUSTER": "1", "REDIS_URL": "redis://a:7000,,b"}, "REDIS_URL"),
        ({"REDIS_CLUSTER": "1", "REDIS_URL": "redis://a:99999"}, "REDIS_URL"),
        ({"REDIS_SENTINEL": "m", "REDIS_URL": "redis://a/zero"}, "REDIS_URL"),
        ({"REDIS_SENTINEL": "my master", "REDIS_URL": "redis://a"}, "REDIS_SENTINEL"),
    ],
)
def test_cluster_and_sentinel_settings_must_agree(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    assert caught.value.variable == variable


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("REDIS_URL", "localhost:6379"),
        ("REDIS_PREFIX", "no-colon"),
        ("REDIS_PREFIX", "{tag}:"),
        ("MAX_BODY_BYTES", "12"),
        ("MODEL_RELOAD_SECONDS", "soon"),
        ("TRUST_PROXY_HOPS", "-1"),
        ("LOG_LEVEL", "LOUD"),
        ("REDIS_TIMEOUT", "0"),
        ("WEB_CONCURRENCY", "0"),
        ("SECRET_KEY", "changeme"),
        ("SECRET_KEY", "a" * 31),
        ("ACCESS_LOG", "maybe"),
        ("SITE_CACHE_SECONDS", "-1"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)


def test_secret_key_strength() -> None:
    """A weak SECRET_KEY stops the start, unless DEV_MODE=1; unset is fine (a
    random one is made in VAR_DIR)."""
    strong = "x" * 16 + "7Gq2" * 4
    assert Settings.from_env({"SECRET_KEY": strong}).secret_key == strong
    assert Settings.from_env({}).secret_key is None
    for weak in ("secret", "Change-Me", "short-but-not-a-placeholder"):
        with pytest.raises(SettingsError, match=r"^SECRET_KEY"):
            Settings.from_env({"SECRET_KEY": weak})
        assert Settings.from_env({"SECRET_KEY": weak, "DEV_MODE": "1"}).secret_key == weak


def test_factory_fails_at_start_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(SettingsError, match=r"^PORT"):
        create_app()


def test_readme_documents_every_variable() -> None:
    source = (Path(__file__).parent.parent / "moderation" / "settings.py").read_text()
    variables = set(re.findall(r'env\.get\(\s*"([A-Z_]+)"', source))
    assert len(variables) >= 10
    readme = README.read_text()
    missing = [v for v in sorted(variables) if f"`{v}`" not in readme]
    assert not missing, f"README configuration table lacks {missing}"
