"""The one typed settings object, read once from the environment.

No other module reads ``os.environ``: the app factory, the gunicorn config and
the CLIs call :func:`Settings.from_env` and pass the object on. A bad value
fails here, at start, with a :class:`SettingsError` naming the variable.

Every variable is listed in the README's configuration table; keep the two in
step (``tests/test_settings.py`` checks that each one is mentioned there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

from limits import parse_many

from moderation.errors import SettingsError

T = TypeVar("T")

# A key prefix is a plain word followed by a colon; hash tags (braces) are
# ours to place, so they may not appear in it.
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}:$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Settings:
    """Configuration of one deployment. Defaults suit ``make run`` on a laptop."""

    redis_url: str | None = None
    # REDIS_URL names nodes of a Redis Cluster (REDIS_CLUSTER=1) or Sentinels
    # watching a primary (REDIS_SENTINEL=<its name>) instead of one server.
    redis_cluster: bool = False
    redis_sentinel: str | None = None
    redis_prefix: str = "modr:"
    var_dir: Path = Path("var")
    models_dir: Path = Path("models")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    max_body_bytes: int = 4 * 1024 * 1024
    model_reload_seconds: float = 5.0
    trust_proxy_hops: int = 0
    log_level: str = "INFO"
    # One line per request on stdout (gunicorn's access log): off by default,
    # since the reverse proxy in front logs requests, and on this path a log
    # line costs as much as a tenth of a check.
    access_log: bool = False
    # How long a worker trusts a site key it has checked (and the site's
    # settings) before asking Redis again; 0 asks on every request. A change
    # made in another process (revoke, rotate, settings) applies after this.
    site_cache_seconds: float = 1.0
    # Stored comments carry a keyed hash of the commenter's IP; with this, also
    # its network (/24, /48) for moderators who read addresses.
    ip_prefix: bool = False
    # Personal data: a stored comment loses its author's fields (name, e-mail,
    # URL, IP hash, user agent) after RETENTION_DAYS and is deleted after
    # COMMENT_RETENTION_DAYS (the nightly job purges; README: Privacy).
    retention_days: float = 30.0
    comment_retention_days: float = 365.0
    redis_timeout: float = 1.0
    # Set by our gunicorn config (var/metrics); prometheus_client reads it too.
    metrics_dir: Path | None = None
    # The Akismet fallback for uncertain comments (off without a key).
    akismet_api_key: str | None = None
    akismet_blog_url: str | None = None
    akismet_url: str = "https://rest.akismet.com"
    akismet_timeout: float = 1.5
    akismet_failures: int = 5
    akismet_cooldown: float = 30.0
    akismet_budget: int = 0
    # The review queue.
    moderator_token_seconds: int = 3600
    review_lease_seconds: float = 300.0
    undo_seconds: float = 600.0
    # Webhooks: per attempt, the first retry delay (doubling, up to an hour),
    # and how long an undeliverable event is retried before it is given up.
    webhook_timeout: float = 5.0
    webhook_backoff_seconds: float = 5.0
    webhook_retry_seconds: float = 25 * 3600.0
    run_worker: bool = True  # gunicorn's master starts the background worker
    secret_key: str | None = None  # else VAR_DIR/secret_key, made once
    # Campaigns: the sliding window, and when a cluster is "growing fast" (this
    # many members in the last hour, on this many sites) its members' score
    # gets this many log-odds more.
    campaign_window_days: float = 7.0
    campaign_similarity: float = 0.4  # estimated Jaccard to join a cluster
    campaign_growth: int = 5
    campaign_growth_sites: int = 2
    campaign_boost: float = 2.0
    # The nightly retraining job.
    labels_dir_setting: Path | None = None  # LABELS_DIR, else VAR_DIR/labels
    train_data: tuple[Path, ...] = ()
    retrain_margin: float = 0.02
    retrain_keep: int = 10
    retrain_exclude: tuple[str, ...] = ()
    # Rate limits ("N/second;M/minute", "off"): API requests per client address
    # (counted before the key is looked at) and per site key (a site's own
    # limit, `sites update --rate-limit`, overrides it); failed logins per
    # address and per account. RATE_LIMITS=off switches all of them off.
    rate_limits: bool = True
    rate_limit_ip: str = "6000/minute"
    rate_limit_site: str = "1200/minute"
    rate_limit_login: str = "10 per 15 minutes"
    # Velocity limits per identity kind (minute, hour, day), over the defaults.
    velocity_limits: tuple[tuple[str, tuple[int, int, int]], ...] = ()

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def labels_dir(self) -> Path:
        """The label dataset on disk: the source of truth for training."""
        return self.labels_dir_setting or self.var_dir / "labels"

    @property
    def spool_dir(self) -> Path:
        """Checked comments waiting for Redis to come back."""
        return self.var_dir / "spool"

    @property
    def redis_dir(self) -> Path:
        """Data, socket and log of the embedded Redis server."""
        return self.var_dir / "redis"

    def replace(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read every variable; raise SettingsError naming the first bad one."""
        env = _Reader(environ)
        prefix = env.get("REDIS_PREFIX", cls.redis_prefix, str)
        if not _PREFIX_RE.match(prefix):
            raise SettingsError(
                "REDIS_PREFIX", "must be 1-32 letters, digits, '_', '.' or '-' then ':'"
            )
        redis_url = env.get("REDIS_URL", None, _redis_url)
        redis_cluster = env.get("REDIS_CLUSTER", cls.redis_cluster, _flag)
        redis_sentinel = env.get("REDIS_SENTINEL", None, _sentinel_name)
        if (redis_cluster or redis_sentinel) and not str(redis_url or "").startswith("redis"):
            raise SettingsError(
                "REDIS_CLUSTER" if redis_cluster else "REDIS_SENTINEL",
                "needs REDIS_URL naming the nodes: redis://host:port,host:port",
            )
        if redis_cluster and redis_sentinel:
            raise SettingsError("REDIS_SENTINEL", "cannot be combined with REDIS_CLUSTER=1")
        if redis_cluster or redis_sentinel:
            try:
                redis_nodes(str(redis_url), SENTINEL_PORT if redis_sentinel else 6379)
            except ValueError as exc:
                raise SettingsError("REDIS_URL", str(exc)) from exc
        log_level = env.get("LOG_LEVEL", cls.log_level, str).upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError("LOG_LEVEL", f"must be one of {', '.join(_LOG_LEVELS)}")
        return cls(
            redis_url=redis_url,
            redis_cluster=redis_cluster,
            redis_sentinel=redis_sentinel,
            redis_prefix=prefix,
            var_dir=env.get("VAR_DIR", cls.var_dir, Path),
            models_dir=env.get("MODELS_DIR", cls.models_dir, Path),
            host=env.get("HOST", cls.host, str),
            port=env.get("PORT", cls.port, _between(int, 1, 65535)),
            workers=env.get("WEB_CONCURRENCY", cls.workers, _between(int, 1, 64)),
            max_body_bytes=env.get(
                "MAX_BODY_BYTES", cls.max_body_bytes, _between(int, 1024, 256 * 1024 * 1024)
            ),
            model_reload_seconds=env.get(
                "MODEL_RELOAD_SECONDS", cls.model_reload_seconds, _between(float, 0.0, 3600.0)
            ),
            trust_proxy_hops=env.get("TRUST_PROXY_HOPS", cls.trust_proxy_hops, _between(int, 0, 5)),
            log_level=log_level,
            access_log=env.get("ACCESS_LOG", cls.access_log, _flag),
            ip_prefix=env.get("IP_PREFIX", cls.ip_prefix, _flag),
            retention_days=env.get(
                "RETENTION_DAYS", cls.retention_days, _between(float, 0.0, 3650.0)
            ),
            comment_retention_days=env.get(
                "COMMENT_RETENTION_DAYS", cls.comment_retention_days, _between(float, 1.0, 36500.0)
            ),
            site_cache_seconds=env.get(
                "SITE_CACHE_SECONDS", cls.site_cache_seconds, _between(float, 0.0, 60.0)
            ),
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR", None, Path),
            redis_timeout=env.get("REDIS_TIMEOUT", cls.redis_timeout, _between(float, 0.05, 60.0)),
            akismet_api_key=env.get("AKISMET_API_KEY", None, str),
            akismet_blog_url=env.get("AKISMET_BLOG_URL", None, _http_url),
            akismet_url=env.get("AKISMET_URL", cls.akismet_url, _http_url),
            akismet_timeout=env.get(
                "AKISMET_TIMEOUT", cls.akismet_timeout, _between(float, 0.05, 30.0)
            ),
            akismet_failures=env.get(
                "AKISMET_FAILURES", cls.akismet_failures, _between(int, 1, 1000)
            ),
            akismet_cooldown=env.get(
                "AKISMET_COOLDOWN", cls.akismet_cooldown, _between(float, 0.1, 3600.0)
            ),
            akismet_budget=env.get("AKISMET_BUDGET", cls.akismet_budget, _between(int, 0, 10**9)),
            moderator_token_seconds=env.get(
                "MODERATOR_TOKEN_SECONDS", cls.moderator_token_seconds, _between(int, 60, 86400)
            ),
            review_lease_seconds=env.get(
                "REVIEW_LEASE_SECONDS", cls.review_lease_seconds, _between(float, 10.0, 86400.0)
            ),
            undo_seconds=env.get("UNDO_SECONDS", cls.undo_seconds, _between(float, 0.0, 86400.0)),
            webhook_timeout=env.get(
                "WEBHOOK_TIMEOUT", cls.webhook_timeout, _between(float, 0.1, 60.0)
            ),
            webhook_backoff_seconds=env.get(
                "WEBHOOK_BACKOFF_SECONDS",
                cls.webhook_backoff_seconds,
                _between(float, 0.01, 3600.0),
            ),
            webhook_retry_seconds=env.get(
                "WEBHOOK_RETRY_SECONDS",
                cls.webhook_retry_seconds,
                _between(float, 1.0, 30 * 86400.0),
            ),
            run_worker=env.get("RUN_WORKER", cls.run_worker, _flag),
            secret_key=_secret_key(env),
            campaign_window_days=env.get(
                "CAMPAIGN_WINDOW_DAYS", cls.campaign_window_days, _between(float, 0.01, 90.0)
            ),
            campaign_similarity=env.get(
                "CAMPAIGN_SIMILARITY", cls.campaign_similarity, _between(float, 0.1, 1.0)
            ),
            campaign_growth=env.get(
                "CAMPAIGN_GROWTH", cls.campaign_growth, _between(int, 2, 10**6)
            ),
            campaign_growth_sites=env.get(
                "CAMPAIGN_GROWTH_SITES", cls.campaign_growth_sites, _between(int, 1, 10**6)
            ),
            campaign_boost=env.get(
                "CAMPAIGN_BOOST", cls.campaign_boost, _between(float, 0.0, 20.0)
            ),
            velocity_limits=env.get("VELOCITY_LIMITS", (), _velocity_limits),
            rate_limits=env.get("RATE_LIMITS", cls.rate_limits, _flag),
            rate_limit_ip=env.get("RATE_LIMIT_IP", cls.rate_limit_ip, _rate_limit),
            rate_limit_site=env.get("RATE_LIMIT_SITE", cls.rate_limit_site, _rate_limit),
            rate_limit_login=env.get("RATE_LIMIT_LOGIN", cls.rate_limit_login, _rate_limit),
            labels_dir_setting=env.get("LABELS_DIR", None, Path),
            train_data=env.get("TRAIN_DATA", (), _paths),
            retrain_margin=env.get("RETRAIN_MARGIN", cls.retrain_margin, _between(float, 0.0, 1.0)),
            retrain_keep=env.get("RETRAIN_KEEP", cls.retrain_keep, _between(int, 1, 1000)),
            retrain_exclude=env.get("RETRAIN_EXCLUDE", (), _sources),
        )


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise SettingsError(name, f"{exc} (got {raw!r})") from exc


N = TypeVar("N", int, float)


def _between(kind: type[N], low: N, high: N) -> Callable[[str], N]:
    """A parser for a number of ``kind`` within [low, high]."""
    noun = "an integer" if kind is int else "a number"

    def parse(raw: str) -> N:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"must be {noun}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _rate_limit(raw: str) -> str:
    """``20/second;600/minute`` (the ``limits`` library's notation) or ``off``."""
    if raw.lower() != "off":
        try:
            parse_many(raw)
        except ValueError:
            raise ValueError("must be like 20/second;600/minute, or off") from None
    return raw


_VELOCITY_KINDS = ("ip", "email", "email_domain", "url_domain", "site")


def _velocity_limits(raw: str) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """``ip=5/30/200,site=120/2000/20000``: per kind, most per minute/hour/day."""
    limits = []
    for part in raw.split(","):
        kind, _, values = part.strip().partition("=")
        numbers = values.split("/")
        if (
            kind not in _VELOCITY_KINDS
            or len(numbers) != 3
            or not all(n.isdigit() and int(n) > 0 for n in numbers)
        ):
            raise ValueError(
                f"must be kind=minute/hour/day, kind one of {', '.join(_VELOCITY_KINDS)}"
            )
        limits.append((kind, (int(numbers[0]), int(numbers[1]), int(numbers[2]))))
    return tuple(limits)


def _paths(raw: str) -> tuple[Path, ...]:
    """``a.csv:exports/`` (colon-separated, like PATH)."""
    return tuple(Path(p) for p in raw.split(":") if p.strip())


def _sources(raw: str) -> tuple[str, ...]:
    """``site:spam.example,moderator:bob``."""
    found = tuple(p.strip() for p in raw.split(",") if p.strip())
    if not all(p.startswith(("site:", "moderator:")) for p in found):
        raise ValueError("must be site:<domain> or moderator:<name>, comma-separated")
    return found


# What a secret looks like when someone copied it from an example.
_PLACEHOLDER_SECRETS = frozenset({
    "secret", "changeme", "change-me", "change_me", "dev", "development", "test", "testing",
    "default", "password", "please-change-me", "your-secret-key", "insecure",
})  # fmt: skip
MIN_SECRET_CHARS = 32


def _secret_key(env: _Reader) -> str | None:
    """SECRET_KEY as given, refused when short or a placeholder (it keys the
    hashes of IPs and e-mail addresses, and the moderators' sessions) -
    unless DEV_MODE=1. Unset is fine: a random one is made in VAR_DIR."""
    value = env.get("SECRET_KEY", None, str)
    if value is None or env.get("DEV_MODE", False, _flag):
        return value
    if value.strip().lower() in _PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_CHARS:
        raise SettingsError(
            "SECRET_KEY",
            f"must be a random value of {MIN_SECRET_CHARS}+ characters (e.g. the output of"
            " `python -c 'import secrets; print(secrets.token_hex(32))'`), or unset to have"
            " one made in VAR_DIR; DEV_MODE=1 allows a weak one for development",
        )
    return value


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be 1 or 0")


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw


def _redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return raw


SENTINEL_PORT = 26379


@dataclass(frozen=True)
class RedisNodes:
    """What ``redis://[user:password@]host:port,host:port[/db]`` says: the
    seed nodes of a cluster, or the Sentinels, and how to log in to Redis."""

    hosts: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    db: int
    tls: bool


def redis_nodes(url: str, default_port: int) -> RedisNodes:
    """Parse a REDIS_URL listing several nodes (redis-py's from_url takes one)."""
    scheme, _, rest = url.partition("://")
    userinfo, _, hostpart = rest.rpartition("@")
    hostlist, _, path = hostpart.partition("/")
    username, _, password = userinfo.partition(":")
    hosts = []
    for item in hostlist.split(","):
        host, port = item, default_port
        if item.rpartition(":")[2].isdigit() and not item.endswith("]"):
            head, _, tail = item.rpartition(":")
            host, port = head, int(tail)
        host = host.removeprefix("[").removesuffix("]")
        if not host or not 0 < port < 65536:
            raise ValueError(f"{item!r} is not a host:port")
        hosts.append((host, port))
    if path and not path.isdigit():
        raise ValueError(f"/{path} is not a database number")
    return RedisNodes(
        hosts=tuple(hosts),
        username=unquote(username) or None,
        password=unquote(password) or None,
        db=int(path or 0),
        tls=scheme == "rediss",
    )


def _sentinel_name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", raw):
        raise ValueError("must be the name the Sentinels know the primary by (e.g. mymaster)")
    return raw
