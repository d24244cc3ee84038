"""The moderators' page in a real headless Chromium, against the app on a real server.

Chromium is Debian's (``make test`` installs it when missing); Playwright for
Python drives it. No browser means a failure here, never a skip.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from moderation import create_app
from moderation.services import Services
from moderation.settings import Settings
from tests.conftest import serving

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Chromium is missing: make test installs Debian's chromium"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings.replace(review_lease_seconds=300, undo_seconds=60))


@pytest.fixture
def site(svc: Services) -> dict[str, str]:
    key = svc.sites.create("blog.example")
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)  # all held
    svc.moderators.create("alice", PASSWORD, sites=["blog.example"])
    svc.moderators.create("bob", PASSWORD, sites=["blog.example"])
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def url(app: Flask) -> Iterator[str]:
    with serving(app) as base:
        yield base


WORDS = [
    "garden", "recipe", "bicycle", "winter", "guitar", "library", "harbour", "mountain",
    "coffee", "pattern", "network", "theatre", "lantern", "compiler", "meadow", "violin",
    "bakery", "glacier", "tractor", "novel", "orchard", "census", "pottery", "satellite",
    "festival", "jacket", "museum", "kernel", "canyon", "pepper", "ferry", "ribbon", "anchor",
]  # fmt: skip


def distinct(i: int) -> str:
    """A comment unlike the others (similar ones would be grouped as a campaign)."""
    words = random.Random(i).sample(WORDS, 10)
    return f"About the {words[0]}: " + " ".join(words[1:]) + f" - question {i}?"


def hold(url: str, site: dict[str, str], comment_id: str, content: str, **more: str) -> None:
    body = requests.post(f"{url}/api/v1/comments/check", headers=site, timeout=10,
                         json={"id": comment_id, "content": content, **more}).json()  # fmt: skip
    assert body["verdict"] == "review"


def logged_in(browser: Browser, url: str, name: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/moderate/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{url}/moderate/")
    return context, page


def test_clear_twenty_with_the_keyboard_and_undo_one(
    browser: Browser, url: str, site: dict, svc: Services
) -> None:
    for i in range(20):
        hold(url, site, f"k{i}", distinct(i))
    context, page = logged_in(browser, url, "alice")
    rows = page.locator("#queue > li")
    expect(rows).to_have_count(20)
    for i in range(20):
        page.keyboard.press("s" if i % 2 else "a")
        expect(rows).to_have_count(19 - i)
    expect(page.locator("#undo-bar")).to_be_visible()
    page.keyboard.press("u")  # the last decision comes back
    expect(rows).to_have_count(1)
    assert svc.review.depth(["blog.example"]) == {"blog.example": 1}
    labels = [e for _, e in svc.redis.xrange(svc.keys.labels())]
    assert len([e for e in labels if e["type"] == "label"]) == 20
    assert len([e for e in labels if e["type"] == "retract"]) == 1
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    context.close()


def test_a_campaign_cluster_is_one_row_decided_at_once(
    browser: Browser, url: str, site: dict, svc: Services
) -> None:
    wave = "Earn $500 a day from home with this simple trick, visit our site now before it is gone"
    for i, text in enumerate([wave, wave.replace("simple", "easy"), wave.replace("$500", "$900")]):
        hold(url, site, f"c{i}", text)
    hold(url, site, "other", "A completely different comment about the garden and its roses")
    context, page = logged_in(browser, url, "alice")
    rows = page.locator("#queue > li")
    expect(rows).to_have_count(2)
    cluster = page.locator("li.cluster")
    expect(cluster).to_contain_text("3 similar comments")
    cluster.get_by_role("button", name="Spam (s)").click()
    expect(rows).to_have_count(1)
    statuses = {svc.comments.get("blog.example", f"c{i}").status for i in range(3)}
    assert statuses == {"spam"}
    page.goto(f"{url}/moderate/history")
    expect(page.locator("table.history tbody tr")).to_have_count(3)
    page.goto(f"{url}/moderate/dashboard")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("svg.chart").first).to_be_visible()
    context.close()


def test_two_moderators_never_see_the_same_item(browser: Browser, url: str, site: dict) -> None:
    for i in range(30):
        hold(url, site, f"t{i}", distinct(100 + i))
    context_a, page_a = logged_in(browser, url, "alice")
    context_b, page_b = logged_in(browser, url, "bob")
    expect(page_a.locator("#queue > li")).to_have_count(20)
    expect(page_b.locator("#queue > li")).to_have_count(10)
    ids_a = set(page_a.locator("#queue > li").evaluate_all("rows => rows.map(r => r.dataset.ids)"))
    ids_b = set(page_b.locator("#queue > li").evaluate_all("rows => rows.map(r => r.dataset.ids)"))
    assert ids_a and ids_b and not ids_a & ids_b
    context_a.close()
    context_b.close()


def test_spammer_html_is_inert_text(browser: Browser, url: str, site: dict) -> None:
    hold(url, site, "x1", XSS, author='<img src=x onerror="window.__xss = 3">',
         author_url="javascript:window.__xss=4")  # fmt: skip
    context, page = logged_in(browser, url, "alice")
    row = page.locator("#queue > li")
    expect(row).to_have_count(1)
    expect(row.locator(".content")).to_have_text(XSS)
    expect(row.locator(".author")).to_have_text('<img src=x onerror="window.__xss = 3">')
    assert page.evaluate("window.__xss") is None
    assert row.locator("img, script").count() == 0
    context.close()


def test_posts_without_the_csrf_token_are_refused(browser: Browser, url: str, site: dict) -> None:
    hold(url, site, "f1", "A comment to decide without a token, which must not work")
    context, page = logged_in(browser, url, "alice")
    expect(page.locator("#queue > li")).to_have_count(1)
    forged = page.request.post(f"{url}/moderate/api/decide",
                               data={"ids": ["blog.example:f1"], "label": "spam"})  # fmt: skip
    assert forged.status == 400
    expect(page.locator("#queue > li")).to_have_count(1)
    login = requests.post(f"{url}/moderate/login", timeout=10,
                          data={"username": "alice", "password": PASSWORD})  # fmt: skip
    assert login.status_code == 400
    headers = page.request.get(f"{url}/moderate/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    context.close()


def test_admin_pages_manage_sites_moderators_and_models(
    browser: Browser, url: str, site: dict, svc: Services, models_dir: object
) -> None:
    svc.moderators.create("root", PASSWORD, admin=True)
    context, page = logged_in(browser, url, "root")
    page.goto(f"{url}/moderate/admin/sites")
    page.fill("#new-domain", "shop.example")
    page.get_by_role("button", name="Create").click()
    key = page.locator("#shown-value").text_content()
    assert key and key.startswith("mk_")
    assert svc.sites.authenticate(key).domain == "shop.example"
    row = page.locator("tr", has_text="shop.example")
    row.get_by_label("spam above for shop.example").fill("0.9")
    row.locator("form", has_text="spam").get_by_role("button", name="Save").click()
    assert svc.sites.get("shop.example").spam_above == 0.9
    row = page.locator("tr", has_text="shop.example")
    row.get_by_label("webhook URL for shop.example").fill("https://shop.example/hook")
    row.locator("form", has=page.get_by_label("webhook URL for shop.example")).get_by_role(
        "button", name="Save").click()  # fmt: skip
    assert (page.locator("#shown-value").text_content() or "").startswith("whsec_")
    assert svc.sites.get("shop.example").webhook_url == "https://shop.example/hook"

    page.goto(f"{url}/moderate/admin/moderators")
    page.fill("#new-name", "carol")
    page.fill("#new-password", PASSWORD)
    page.select_option("#new-sites", ["shop.example"])
    page.get_by_role("button", name="Create").click()
    assert svc.moderators.get("carol").sites == {"shop.example"}
    page.locator("tr", has_text="carol").get_by_role("button", name="Disable").click()
    assert svc.moderators.get("carol").disabled

    page.goto(f"{url}/moderate/admin/models")
    expect(page.locator("td", has_text="current")).to_have_count(1)
    context.close()

    context, page = logged_in(browser, url, "alice")  # not an admin
    assert page.goto(f"{url}/moderate/admin/sites").status == 403  # type: ignore[union-attr]
    context.close()
