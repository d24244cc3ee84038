"""WSGI entry point: ``gunicorn wsgi:app`` (``make run`` does this with our config)."""

from moderation import create_app

app = create_app()
