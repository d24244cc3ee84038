"""The baseline bench/http.py measures the service against: a bare Flask JSON
endpoint, served under the same gunicorn configuration.

    gunicorn -c python:moderation.gunicorn_conf bench.bare:app

It reads the JSON body and answers a small JSON document - what any Flask
JSON API costs before it does any work of its own.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/check")
def check() -> Response:
    body = request.get_json(force=True)
    return jsonify({"verdict": "ham", "fields": len(body) if isinstance(body, dict) else 0})
