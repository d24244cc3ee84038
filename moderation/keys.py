"""Every Redis key of the service, built here and nowhere else.

The whole scheme, under one prefix (``REDIS_PREFIX``, default ``modr:``)::

    {sites}:all                   set    every site domain
    {sites}:site:<domain>         hash   a site: key hash, state, cutoff overrides
    {sites}:key:<sha256>          string site key hash -> domain
    {sites}:bootstrap             string set once: the first-start site was made
    {site:<domain>}:comment:<id>  hash   one checked comment: fields, result, status
    {site:<domain>}:pending       zset   comment ids waiting for a human, by check time
    {site:<domain>}:guid:<guid>   string a check's guid (X-akismet-guid, review_id) -> id
    {site:<domain>}:content:<sha> string sha256 of a comment's text -> id of its last check
    {site:<domain>}:usage:<YYYY-MM> hash calls, verdicts, missed_spam, false_positives,
                                         akismet_calls of the month (expires after a year)
    {site:<domain>}:daily:<YYYY-MM-DD> hash checks of the day by verdict and source
    {site:<domain>}:claims        zset   claimed queue items -> lease expiry (unix time)
    {site:<domain>}:claimers      hash   claimed queue items -> moderator
    {site:<domain>}:events        stream the audit log: decisions and undos, in order
    {site:<domain>}:webhook_retry zset   events whose delivery failed -> next attempt time
    {site:<domain>}:webhook_tries hash   event -> failed attempts so far
    {site:<domain>}:webhook_block hash   comment -> its oldest undelivered event (order per comment)
    {akismet}:circuit             hash   the Akismet circuit breaker, shared by every worker
    {mods}:all                    set    every moderator name
    {mods}:user:<name>            hash   a moderator: password hash, admin, sites, state
    {mods}:token:<sha256>         string a login token's hash -> moderator (expires)
    {mods}:tokens:<name>          set    a moderator's token keys (to revoke them all)
    {mods}:batch:<name>:<cluster> string the items of a cluster decision, for its undo
    {campaign}:band:<n>:<hash>    string an LSH band of a signature -> cluster id (expires)
    {campaign}:cluster:<id>       hash   a cluster's first signature and first sighting
    {campaign}:cluster:<id>:<set> zset   members, sites, confirmed, denied, model (by time)
    {velocity:<kind>:<hmac>}      zset   recent comments of one IP/e-mail/domain/site
    {labels}:stream               stream every label (feedback, decisions) for retraining
    {retrain}:lock                string the running retrain job's token (expires)
    {models}:current              string the promoted model version, followed by every node
    {models}:artifact:<version>   hash   a published version: manifest, model (base64), signature
    {models}:versions             zset   published versions, by publication time
    limits:{LIMITER/<kind>/<who>/<limit>}  the rate-limit counters (the ``limits``
                                  library's sliding windows; expire)

Braces are Redis Cluster hash tags: keys changed together in one atomic step
share one, so the same code runs on a cluster. Domains and comment ids are
validated before they reach a key (no braces, spaces or colons in a domain).
"""

from __future__ import annotations


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    # -- sites (one hash slot: the registry is small and changes atomically)
    def sites(self) -> str:
        return f"{self.prefix}{{sites}}:all"

    def site(self, domain: str) -> str:
        return f"{self.prefix}{{sites}}:site:{domain}"

    def site_key(self, key_hash: str) -> str:
        return f"{self.prefix}{{sites}}:key:{key_hash}"

    def bootstrap(self) -> str:
        return f"{self.prefix}{{sites}}:bootstrap"

    # -- comments (one hash slot per site)
    def comment(self, domain: str, comment_id: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:comment:{comment_id}"

    def parse_comment(self, key: str) -> tuple[str, str] | None:
        """(domain, id) of a key made by :meth:`comment`; None for any other."""
        head = f"{self.prefix}{{site:"
        domain, sep, comment_id = key.removeprefix(head).partition("}:comment:")
        return (domain, comment_id) if key.startswith(head) and sep else None

    def pending(self, domain: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:pending"

    def guid(self, domain: str, guid: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:guid:{guid}"

    def content(self, domain: str, digest: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:content:{digest}"

    def usage(self, domain: str, month: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:usage:{month}"

    def daily(self, domain: str, day: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:daily:{day}"

    def claims(self, domain: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:claims"

    def claimers(self, domain: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:claimers"

    def events(self, domain: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:events"

    def webhook_retry(self, domain: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:webhook_retry"

    def webhook_tries(self, domain: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:webhook_tries"

    def webhook_block(self, domain: str) -> str:
        return f"{self.prefix}{{site:{domain}}}:webhook_block"

    # -- moderators (one hash slot: few, small, changed together)
    def moderators(self) -> str:
        return f"{self.prefix}{{mods}}:all"

    def moderator(self, name: str) -> str:
        return f"{self.prefix}{{mods}}:user:{name}"

    def moderator_token(self, digest: str) -> str:
        return f"{self.prefix}{{mods}}:token:{digest}"

    def moderator_tokens(self, name: str) -> str:
        return f"{self.prefix}{{mods}}:tokens:{name}"

    def rate_limits(self) -> str:
        """The prefix of the rate-limit counters (``limits`` names the rest)."""
        return f"{self.prefix}limits"

    def cluster_batch(self, name: str, cluster: str) -> str:
        return f"{self.prefix}{{mods}}:batch:{name}:{cluster}"

    def retrain_lock(self) -> str:
        return f"{self.prefix}{{retrain}}:lock"

    # -- models (one hash slot: a publication changes all three atomically)
    def model_current(self) -> str:
        return f"{self.prefix}{{models}}:current"

    def model_artifact(self, version: str) -> str:
        return f"{self.prefix}{{models}}:artifact:{version}"

    def model_versions(self) -> str:
        return f"{self.prefix}{{models}}:versions"

    # -- the Akismet fallback
    def akismet_circuit(self) -> str:
        return f"{self.prefix}{{akismet}}:circuit"

    # -- labels
    def labels(self) -> str:
        return f"{self.prefix}{{labels}}:stream"

    def pattern(self) -> str:
        """Glob matching every key of this deployment (tests, purge)."""
        return f"{self.prefix}*"


def stream_order(stream_id: str) -> tuple[int, int]:
    """A Redis stream id (``<ms>-<seq>``) as a sortable pair; (0, 0) if it is not one."""
    ms, _, seq = str(stream_id).partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0
