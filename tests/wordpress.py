"""``make test-wordpress``: a real WordPress with the Akismet plugin and ours, end to end.

Debian's WordPress (with its Akismet plugin) on PHP's built-in server on
loopback, its own MariaDB on a private socket, and the service as ``make run``
starts it (gunicorn and its background worker), all in a temporary
directory. Then, over HTTP like a visitor and a moderator:

1. a link-spam comment lands in WordPress's Spam folder;
2. an ordinary comment is published (and shows on the post);
3. a borderline one is held (pending), queued for our moderators;
4. Akismet's "Check for Spam" leaves it held (and queued once); a moderator
   approves it through our API, and the webhook makes it approved in
   WordPress; another one spammed, then the decision undone: spam, then held;
   the webhook route refuses wrong, replayed and missing signatures;
5. the blog's admin clicks "Not Spam" on the spam comment, and the Akismet
   plugin's submit-ham reaches us as a ham label (a false positive counted);
6. with the Akismet plugin deactivated, our plugin checks a comment with
   the native API itself, and reports the admin's "Spam" on it as a label.

Not a pytest module (pytest collects ``test_*.py``): ``python -m tests.wordpress``.
Every process it starts is stopped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import getpass
import html
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

from moderation.webhooks import SIGNATURE_HEADER, sign
from tests.service import BIN, ROOT, free_port, log, process, service_env, wait_for

PLUGIN_DIR = ROOT / "integrations" / "wordpress"
WORDPRESS = Path("/usr/share/wordpress")  # Debian's package
SITE = "blog.test"
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)
MODERATOR = "wpmod"
MODERATOR_PASSWORD = "moderator-" + secrets.token_hex(8)
# The starter model's scores of these comments as WordPress sends them
# (measured: spam 0.999, ordinary 0.005, borderline 0.69): these cutoffs put
# each well inside its band.
HAM_BELOW, SPAM_ABOVE = 0.3, 0.99

SPAM = {
    "author": "Cheap Pills",
    "email": "deals@cheap-pills.example.com",
    "url": "http://cheap-pills.example.com",
    "comment": "CHEAP VIAGRA!!! Buy now at http://cheap-pills.example.com/buy and "
    "http://casino-win.example.net - click here for free money, best price guaranteed, "
    "subscribe to my channel!!!",
}
GUARANTEED_SPAM = {
    "author": "akismet-guaranteed-spam",
    "email": "tester@example.org",
    "url": "",
    "comment": "Checking that the blog is wired to the moderation service.",
}
HAM = {
    "author": "Ada",
    "email": "ada@example.org",
    "url": "",
    "comment": "Thanks for writing this up. I tried the second approach on my own blog "
    "last week and the comments page loads much faster now.",
}
BORDERLINE = {
    "author": "Sam",
    "email": "sam@example.org",
    "url": "",
    "comment": "Nice post, check out my website for more",
}
BORDERLINE_2 = {
    "author": "Kim",
    "email": "kim@example.org",
    "url": "",
    "comment": "cool video lol check my channel",
}
NATIVE = {
    "author": "Grace",
    "email": "grace@example.org",
    "url": "",
    "comment": "A question about the third paragraph: does this also hold for nested "
    "replies, or only for top-level comments?",
}


def mariadb(stack: ExitStack, tmp: Path) -> Path:
    """A MariaDB of our own on a private socket (never the machine's): its socket."""
    data, sock = tmp / "mysql", tmp / "mysqld.sock"
    user = getpass.getuser()
    subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={data}",
            f"--user={user}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.enter_context(
        process(
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={sock}",
                "--skip-networking",
                f"--pid-file={tmp / 'mysqld.pid'}",
                f"--user={user}",
                "--innodb-buffer-pool-size=32M",
                "--skip-log-bin",
                "--skip-name-resolve",
            ],
            tmp / "mariadb.log",
        )
    )
    create = [
        "mariadb",
        "--no-defaults",
        f"--socket={sock}",
        "-uroot",
        "-e",
        "CREATE DATABASE IF NOT EXISTS wordpress",
    ]
    wait_for("MariaDB", lambda: subprocess.run(create, capture_output=True).returncode == 0)
    return sock


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def service(stack: ExitStack, tmp: Path, port: int, webhook: str) -> tuple[str, str]:
    """Train, create the site (cutoffs, webhook) and a moderator, serve: (key, secret)."""
    env = service_env(
        tmp,
        port,
        RATE_LIMITS="off",
        # Every visitor here is 127.0.0.1 and most write from example.org,
        # seconds apart: no velocity burst, or the last comments would be held.
        VELOCITY_LIMITS="ip=1000/10000/100000,email_domain=1000/10000/100000",
        WEB_CONCURRENCY="2",
        # A failed first delivery (WordPress busy) is retried within a second.
        WEBHOOK_BACKOFF_SECONDS="1",
    )
    started = time.monotonic()
    with open(tmp / "train.log", "wb") as out:
        subprocess.run(
            [str(BIN / "python"), "-m", "training", "train", "--promote"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    log(f"model trained in {time.monotonic() - started:.1f} s")
    key = flask(env, "sites", "create", SITE)
    secret = flask(
        env,
        "sites",
        "update",
        SITE,
        "--ham-below",
        str(HAM_BELOW),
        "--spam-above",
        str(SPAM_ABOVE),
        "--webhook",
        webhook,
    )
    assert key.startswith("mk_") and secret.startswith("whsec_"), (key, secret)
    flask(
        env,
        "moderators",
        "create",
        MODERATOR,
        "--admin",
        "--password-stdin",
        stdin=MODERATOR_PASSWORD + "\n",
    )
    stack.enter_context(
        process(
            [str(BIN / "gunicorn"), "-c", "python:moderation.gunicorn_conf", "wsgi:app"],
            tmp / "service.log",
            env=env,
            cwd=ROOT,
        )
    )
    url = f"http://127.0.0.1:{port}"
    wait_for("the service", lambda: requests.get(f"{url}/readyz", timeout=2).ok)
    return key, secret


def wordpress(tmp: Path, port: int, db_socket: Path) -> Path:
    """A docroot of Debian's WordPress with its own wp-config.php and our plugin."""
    docroot = tmp / "wordpress"
    shutil.copytree(
        WORDPRESS,
        docroot,
        symlinks=True,
        ignore=lambda d, names: ["wp-config.php"] if d == str(WORDPRESS) else [],
    )
    shutil.copy(PLUGIN_DIR / "comment-moderation.php", docroot / "wp-content" / "plugins")
    mu = docroot / "wp-content" / "mu-plugins"
    mu.mkdir()
    # Test scaffolding, not the plugin: every visitor here is 127.0.0.1, seconds apart.
    (mu / "e2e.php").write_text(
        "<?php\nadd_filter( 'wp_is_comment_flood', '__return_false', 99 );\n"
    )
    salts = "".join(
        f"define( '{name}', '{secrets.token_hex(32)}' );\n"
        for name in (
            "AUTH_KEY",
            "SECURE_AUTH_KEY",
            "LOGGED_IN_KEY",
            "NONCE_KEY",
            "AUTH_SALT",
            "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT",
            "NONCE_SALT",
        )
    )
    url = f"http://127.0.0.1:{port}"
    (docroot / "wp-config.php").write_text(
        f"""<?php
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'root' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', 'localhost:{db_socket}' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
{salts}$table_prefix = 'wp_';
define( 'WP_HOME', '{url}' );
define( 'WP_SITEURL', '{url}' );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'WP_ACCESSIBLE_HOSTS', '127.0.0.1,localhost' );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_DISPLAY', false );
define( 'WP_DEBUG_LOG', '{tmp / "wp-debug.log"}' );
if ( ! defined( 'ABSPATH' ) ) {{
\tdefine( 'ABSPATH', __DIR__ . '/' );
}}
require_once ABSPATH . 'wp-settings.php';
"""
    )
    return docroot


class Blog:
    """WordPress over HTTP: a visitor posting, an admin logged in."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = requests.Session()
        self.nonce = ""

    def comment(self, fields: dict[str, str]) -> int:
        """Post a comment through the form; the new comment's id."""
        page = requests.get(f"{self.url}/?p=1", timeout=30)
        assert page.ok and "wp-comments-post.php" in page.text, "no comment form on the post"
        response = requests.post(
            f"{self.url}/wp-comments-post.php",
            data={**fields, "comment_post_ID": "1", "comment_parent": "0", "submit": "Post"},
            headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) e2e-visitor"},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, (response.status_code, response.text[:500])
        found = re.search(r"#comment-(\d+)$", response.headers["Location"])
        assert found, response.headers["Location"]
        return int(found.group(1))

    def log_in(self) -> None:
        self.admin.get(f"{self.url}/wp-login.php", timeout=30)  # the test cookie
        response = self.admin.post(
            f"{self.url}/wp-login.php",
            data={
                "log": "admin",
                "pwd": ADMIN_PASSWORD,
                "wp-submit": "Log In",
                "redirect_to": f"{self.url}/wp-admin/",
                "testcookie": "1",
            },
            timeout=30,
        )
        assert response.ok and "wp-admin" in response.url, response.url
        self.nonce = self.admin.get(
            f"{self.url}/wp-admin/admin-ajax.php", params={"action": "rest-nonce"}, timeout=30
        ).text.strip()
        assert self.nonce and self.nonce != "0", "no REST nonce"

    def status(self, comment_id: int) -> str:
        """The comment's status, as the REST API tells an admin: approved, hold, spam."""
        response = self.admin.get(
            f"{self.url}/",
            params={"rest_route": f"/wp/v2/comments/{comment_id}", "context": "edit"},
            headers={"X-WP-Nonce": self.nonce},
            timeout=30,
        )
        assert response.ok, (response.status_code, response.text[:300])
        return str(response.json()["status"])

    def comment_action(self, comment_id: int, action: str, listed: str) -> None:
        """Click a link under the comment in wp-admin's comment list ``listed``:
        ``unspamcomment`` is "Not Spam", ``spamcomment`` is "Spam"."""
        page = self.admin.get(
            f"{self.url}/wp-admin/edit-comments.php", params={"comment_status": listed}, timeout=30
        )
        links = [
            html.unescape(m)
            for m in re.findall(rf'href="([^"]*action={action}[^"]*)"', page.text)
            if re.search(rf"[?&;]c={comment_id}&", html.unescape(m))
        ]
        assert links, f"no {action} link for comment {comment_id}"
        link = links[0] if links[0].startswith("http") else f"{self.url}/wp-admin/{links[0]}"
        assert self.admin.get(link, timeout=30).ok

    def check_for_spam(self) -> dict[str, int]:
        """Akismet's "Check for Spam" button on the Pending list (its AJAX call)."""
        page = self.admin.get(
            f"{self.url}/wp-admin/edit-comments.php",
            params={"comment_status": "moderated"},
            timeout=30,
        )
        found = re.search(r'checkforspam[^>]*data-nonce="([^"]+)"', page.text)
        assert found, "no Check for Spam button"
        answer = self.admin.post(
            f"{self.url}/wp-admin/admin-ajax.php",
            data={"action": "akismet_recheck_queue", "nonce": found.group(1), "offset": "0",
                  "limit": "100"},
            timeout=30,
        )  # fmt: skip
        assert answer.ok and "counts" in answer.json(), answer.text
        return dict(answer.json()["counts"])

    def plugin(self, action: str, plugin: str) -> None:
        """Activate or deactivate a plugin from wp-admin's Plugins page."""
        page = self.admin.get(f"{self.url}/wp-admin/plugins.php", timeout=30).text
        name = re.escape(plugin.replace("/", "%2F"))
        pattern = rf'href="([^"]*action={action}&amp;plugin={name}[^"]*)"'
        found = re.search(pattern, page)
        assert found, f"no {action} link for {plugin}"
        link = html.unescape(found.group(1))
        link = link if link.startswith("http") else f"{self.url}/wp-admin/{link}"
        assert self.admin.get(link, timeout=30).ok


class Service:
    """The service over HTTP: a moderator logged in, the site's usage counts."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.moderator = requests.Session()
        token = self.moderator.post(
            f"{url}/api/v1/auth/login",
            json={"username": MODERATOR, "password": MODERATOR_PASSWORD},
            timeout=10,
        ).json()["token"]
        self.moderator.headers["Authorization"] = f"Bearer {token}"

    def queued(self, content: str) -> list[str]:
        """The review ids of the queued comments with this text."""
        queue = self.moderator.get(f"{self.url}/api/v1/review", params={"site": SITE}, timeout=10)
        assert queue.ok, queue.text
        return [i["review_id"] for i in queue.json()["items"] if i["fields"]["content"] == content]

    def moderate(self, review_id: str, action: str, label: str = "") -> None:
        """``decision`` (with ``label``) or ``undo``."""
        body = {"label": label, "note": "make test-wordpress"} if label else {}
        answer = self.moderator.post(
            f"{self.url}/api/v1/review/{review_id}/{action}", json=body, timeout=10
        )
        assert answer.ok, answer.text

    def usage(self) -> dict[str, Any]:
        """This month's counts of the site (Akismet's key-sites): calls, false positives..."""
        body = requests.get(f"{self.url}/1.2/key-sites", params={"api_key": self.key}, timeout=10)
        month = next(k for k in body.json() if re.fullmatch(r"\d{4}-\d{2}", k))
        return dict(body.json()[month][0])


def scenario(blog: Blog, service: Service, webhook: str, secret: str) -> None:
    blog.log_in()
    settings = blog.admin.get(
        f"{blog.url}/wp-admin/options-general.php",
        params={"page": "comment-moderation"},
        timeout=30,
    )
    assert settings.ok and "The Akismet plugin is active" in settings.text, settings.status_code

    akismet = blog.admin.get(
        f"{blog.url}/wp-admin/options-general.php",
        params={"page": "akismet-key-config"},
        timeout=30,
    ).text
    # Akismet's own page: connected (to us), the key valid, the account ours.
    assert "connect to the Akismet servers" not in akismet, "Akismet's page: no connection"
    assert "Comment moderation service at 127.0.0.1" in akismet, "Akismet's page: no account"
    log("Akismet's settings page: connected, the account is the service")

    spam = blog.comment(SPAM)
    assert blog.status(spam) == "spam", blog.status(spam)
    log(f"link spam: comment {spam} is in Spam")

    trigger = blog.comment(GUARANTEED_SPAM)
    assert blog.status(trigger) == "spam", blog.status(trigger)
    log(f"Akismet's test trigger (author akismet-guaranteed-spam): comment {trigger} is in Spam")

    ham = blog.comment(HAM)
    assert blog.status(ham) == "approved", blog.status(ham)
    assert HAM["comment"][:40] in requests.get(f"{blog.url}/?p=1", timeout=30).text
    log(f"ordinary comment: {ham} published, shown on the post")

    held = blog.comment(BORDERLINE)
    assert blog.status(held) == "hold", blog.status(held)
    assert BORDERLINE["comment"] not in requests.get(f"{blog.url}/?p=1", timeout=30).text
    (review_id,) = service.queued(BORDERLINE["comment"])
    log(f"borderline comment: {held} held in WordPress, {review_id} in our queue")

    counts = blog.check_for_spam()
    assert blog.status(held) == "hold" and len(service.queued(BORDERLINE["comment"])) == 1
    log(f"Akismet's Check for Spam ({counts}): still held, queued once")

    decided = time.monotonic()
    service.moderate(review_id, "decision", "ham")
    wait_for("the webhook to approve it", lambda: blog.status(held) == "approved", timeout=30)
    assert BORDERLINE["comment"] in requests.get(f"{blog.url}/?p=1", timeout=30).text
    log(f"moderator approved it: approved in WordPress {time.monotonic() - decided:.1f} s later")

    second = blog.comment(BORDERLINE_2)
    assert blog.status(second) == "hold", blog.status(second)
    (second_id,) = service.queued(BORDERLINE_2["comment"])
    service.moderate(second_id, "decision", "spam")
    wait_for("the webhook to spam it", lambda: blog.status(second) == "spam", timeout=30)
    service.moderate(second_id, "undo")
    wait_for("the webhook to hold it again", lambda: blog.status(second) == "hold", timeout=30)
    log(f"comment {second}: a moderator's spam, then undo: spam, then held again in WordPress")

    forged = json.dumps({"event": f"{SITE}:9999999999999-0", "type": "decision", "site": SITE,
                         "guid": "", "id": "", "verdict": "ham"}).encode()  # fmt: skip
    now = int(time.time())
    for what, header in [
        ("a wrong secret", sign("whsec_wrong", forged, now)),
        ("a replayed signature", sign(secret, forged, now - 3600)),
        ("no signature", ""),
    ]:
        answer = requests.post(webhook, data=forged, headers={SIGNATURE_HEADER: header}, timeout=10)
        assert answer.status_code == 401, (what, answer.status_code, answer.text)
    answer = requests.post(
        webhook, data=forged, headers={SIGNATURE_HEADER: sign(secret, forged, now)}, timeout=10
    )
    assert answer.ok and answer.json()["applied"] is False, answer.text  # no such comment
    log("webhook route: wrong, replayed, missing signatures refused (401)")

    assert service.usage()["false_positives"] == 0
    blog.comment_action(spam, "unspamcomment", "spam")
    assert blog.status(spam) != "spam"
    wait_for("the ham label", lambda: service.usage()["false_positives"] == 1, timeout=10)
    log(f"Not Spam on comment {spam}: a ham label at the service (false positives: 1)")

    blog.plugin("deactivate", "akismet/akismet.php")
    native = blog.comment(NATIVE)
    assert blog.status(native) == "approved", blog.status(native)
    # Five checks through Akismet's plugin (its re-check never left WordPress), one native.
    assert service.usage()["api_calls"] == 6, service.usage()
    blog.comment_action(native, "spamcomment", "approved")
    wait_for("the spam label", lambda: service.usage()["missed_spam"] == 1, timeout=10)
    log(f"without the Akismet plugin: comment {native} checked natively; Spam -> a spam label")


def run(keep: bool) -> None:
    for tool in ("php", "mariadbd", "mariadb-install-db", "mariadb"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is missing: make test-wordpress installs it")
    os.environ["PATH"] += ":/usr/sbin:/sbin"
    tmp = Path(tempfile.mkdtemp(prefix="test-wordpress-"))
    started = time.monotonic()
    ok = False
    try:
        with ExitStack() as stack:
            db = mariadb(stack, tmp)
            log(f"MariaDB on {db}")
            service_port, wp_port = free_port(), free_port()
            service_url, wp_url = f"http://127.0.0.1:{service_port}", f"http://127.0.0.1:{wp_port}"
            webhook = f"{wp_url}/?rest_route=/comment-moderation/v1/webhook"
            key, secret = service(stack, tmp, service_port, webhook)
            log(f"service on {service_url}")
            docroot = wordpress(tmp, wp_port, db)
            env = {
                **os.environ,
                "WP_URL": wp_url,
                "WP_ADMIN_PASSWORD": ADMIN_PASSWORD,
                "MODERATION_URL": service_url,
                "MODERATION_KEY": key,
                "MODERATION_SECRET": secret,
            }
            installed = subprocess.run(
                ["php", str(PLUGIN_DIR / "tests" / "install.php"), str(docroot)],
                env=env,
                capture_output=True,
                text=True,
            )
            assert installed.returncode == 0, installed.stdout + installed.stderr
            log(installed.stdout.strip().splitlines()[-1])
            stack.enter_context(
                process(
                    ["php", "-S", f"127.0.0.1:{wp_port}", "-t", str(docroot)],
                    tmp / "php.log",
                    env={**os.environ, "PHP_CLI_SERVER_WORKERS": "4"},
                )
            )
            wait_for("WordPress", lambda: requests.get(f"{wp_url}/", timeout=5).ok)
            log(f"WordPress on {wp_url}")
            scenario(Blog(wp_url), Service(service_url, key), webhook, secret)
            ok = True
    finally:
        log(f"{'passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
        if ok and not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"logs kept in {tmp} (train.log, service.log, php.log, wp-debug.log, mariadb.log)")


def main() -> None:
    # make's TERM (or a CI timeout) unwinds like an error: every process stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    run(parser.parse_args().keep)


if __name__ == "__main__":
    main()
