"""Screenshots of the moderators' pages for the README.

    .venv/bin/python docs/screenshots.py     # writes docs/queue.png, docs/dashboard.png

A throwaway deployment (temporary folder, embedded Redis, the default model
trained on the starter corpus), a few dozen comments from the starter corpus
held for review - a small campaign among them - some decisions, and Chromium
taking the pictures.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation import create_app  # noqa: E402
from moderation.redis_server import EmbeddedRedis  # noqa: E402
from moderation.settings import Settings  # noqa: E402
from tests.conftest import serving  # noqa: E402
from training import artifact, datasets  # noqa: E402
from training.train import train  # noqa: E402

PASSWORD = "screenshot moderator"  # noqa: S105 (a throwaway account)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        starter = datasets.load([], starter=True)
        trained = train(starter)
        data = {"fingerprint": datasets.fingerprint(starter), "n": len(starter)}
        artifact.promote(models, artifact.save(trained.model, models, cutoffs=trained.cutoffs,
                                               metrics=trained.metrics, data=data))  # fmt: skip
        settings = Settings(var_dir=Path(tmp) / "var", models_dir=models)
        app = create_app(settings)
        svc = app.extensions["moderation"]
        keys = {}
        for domain in ("blog.example", "recipes.example"):
            keys[domain] = {"Authorization": f"Bearer {svc.sites.create(domain)}"}
            svc.sites.set_cutoffs(domain, ham_below=0.05, spam_above=0.995)
        svc.moderators.create("alice", PASSWORD, admin=True)
        rng = random.Random(3)  # noqa: S311 (which sample comments, not a secret)
        sample = rng.sample([e.record for e in starter], 60)
        wave = "Earn $500 a day from home with this simple trick, visit http://easy-cash.biz now"
        with serving(app) as url:
            for i, record in enumerate(sample):
                domain = rng.choice(list(keys))
                requests.post(f"{url}/api/v1/comments/check", headers=keys[domain], timeout=10,
                              json={"id": f"s{i}", **record})  # fmt: skip
            for i, word in enumerate(["simple", "easy", "quick"]):
                requests.post(f"{url}/api/v1/comments/check", headers=keys["blog.example"],
                              json={"id": f"w{i}", "content": wave.replace("simple", word),
                                    "user_ip": "203.0.113.9"}, timeout=10)  # fmt: skip
            with sync_playwright() as p:
                executable = shutil.which("chromium")
                browser = p.chromium.launch(executable_path=executable, args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{url}/moderate/login")
                page.fill("#username", "alice")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector("#queue > li")
                for key in "asas":
                    page.keyboard.press(key)
                    page.wait_for_timeout(300)
                page.screenshot(path=str(ROOT / "docs" / "queue.png"))
                page.goto(f"{url}/moderate/dashboard")
                page.screenshot(path=str(ROOT / "docs" / "dashboard.png"), full_page=True)
                browser.close()
        EmbeddedRedis(settings.redis_dir).stop(only_if_unused=False)
    print("wrote docs/queue.png and docs/dashboard.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
