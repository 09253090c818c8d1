"""Browser fixtures: the app with its demo data on a local port, and Debian's Chromium."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from finder import create_app

CHROMIUM = "/usr/bin/chromium"
# The flags the machine's Chromium needs offline and as root (see the env notes in the README).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The real app on SQLite with the demo data, as a family or organiser would meet it."""
    path: Path = tmp_path_factory.mktemp("live") / "live.sqlite"
    with socket.socket() as s:  # the port is known before the app, for its PUBLIC_BASE_URL
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(
        {
            "LIVE_PORT": port,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": f"sqlite:///{path}",
            "MAP_TILE_URL": "/static/img/tile.png",
            "SESSION_COOKIE_SECURE": False,  # plain http on loopback
            "TRUSTED_HOSTS": ["127.0.0.1"],
            "GEOCODER_ENABLED": False,  # no network here; the fallback is tested elsewhere
            # Every browser test comes from 127.0.0.1: the limits are tested over HTTP instead.
            "COME_ALONG_LIMIT": "1000 per hour",
            "COME_ALONG_LIMIT_PER_ACTIVITY": "1000 per hour",
            "COME_ALONG_LIMIT_PER_CONTACT": "1000 per hour",
        }
    )
    result = app.test_cli_runner().invoke(args=["setup", "--demo"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    """The app served on a free loopback port."""
    server = make_server("127.0.0.1", live_app.config["LIVE_PORT"], live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (make test does)"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _page(browser: Browser, js: bool) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        java_script_enabled=js,
        locale="en-GB",
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, js=True)


@pytest.fixture()
def page_no_js(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, js=False)
