"""A family's visit and a few sign-ins, in a process of its own, one round per line read on
stdin, answered as one JSON line: the rate limiter is one per process, so a test that takes
Redis away from it (test_cache.py) must not leave it behind in the test process.

    python -m tests.family_visit '<config as JSON>'   then   visit NAME | sign_in NAME
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from finder import create_app

# Every kind of page the front cache keeps; each asked twice (the second may be a hit).
PAGES = (
    "/",
    "/activities?where=9000",
    "/activities/map?where=9000",
    "/activities/1",
    "/api/v1/activities?where=9000",
    "/api/v1/activities/1",
)


class Collected(logging.Handler):
    """What the page cache and the rate limiter logged since the last round."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def _token(client: FlaskClient, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def sign_in(app: Flask, email: str) -> int:
    """A wrong password for `email`: 400 while the limit holds, then 429."""
    client = app.test_client()
    token = _token(client, "/login")
    data = {"email": email, "password": "x" * 12, "csrf_token": token}
    return client.post("/login", data=data).status_code


def visit(app: Flask, name: str) -> dict[str, Any]:
    family = app.test_client()
    pages = {}
    for url in PAGES:
        first = family.get(url, follow_redirects=True)
        again = family.get(url, follow_redirects=True)
        pages[url] = [first.status_code, again.status_code, again.headers.get("X-Cache")]
    come_along = family.post(
        "/activities/1/come-along",
        data={
            "csrf_token": _token(family, "/activities/1/come-along"),
            "session": "any",
            "name": "Amal",
            "channel": "whatsapp",
            "contact": "0470 12 34 56",
            "language": "ar",
            "adults": "1",
            "children": "2",
            "consent": "y",
            "website": "",
        },
    )
    return {
        "pages": pages,
        "come_along": come_along.status_code,
        "sign_ins": [sign_in(app, f"{name}@example.be") for _ in range(4)],
    }


def main() -> None:
    config = json.loads(sys.argv[1])
    config["NOW"] = datetime.fromisoformat(config["NOW"])
    app = create_app(config)
    collected = Collected()
    for logger in ("finder.pagecache", "flask-limiter"):
        logging.getLogger(logger).addHandler(collected)
        logging.getLogger(logger).setLevel(logging.INFO)
    for line in sys.stdin:
        command, name = line.split()
        answer: dict[str, Any] = (
            visit(app, name) if command == "visit" else {"sign_in": sign_in(app, name)}
        )
        answer["logged"], collected.messages = collected.messages, []
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
