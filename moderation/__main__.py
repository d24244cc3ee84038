"""``python -m moderation worker``: run the background worker (see moderation.worker)."""

from __future__ import annotations

import argparse
import sys

from moderation import create_app
from moderation.errors import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moderation")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="replay the spool and deliver webhooks")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    args = parser.parse_args(argv)
    try:
        app = create_app(load_model=False)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from moderation.worker import Worker

    runner = Worker(app.extensions["moderation"])
    if args.once:
        runner.run_once()
        return 0
    runner.handle_signals()
    runner.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
