"""Every route, read for its headers; every state-changing route refused without a CSRF token;
object-level checks on requests and offers; HSTS over https only."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from finder.models import RequestOffer

from . import factories as f
from .conftest import NOW, AuthActions, csrf_token

TOKEN_ENDPOINTS = {
    "come_along.status",
    "come_along.cancel",
    "come_along.change_date",
    "auth.accept_invite",
    "auth.reset_password",
    "editor.confirm",
    "requests.offer_link",
}


def _urls(app: Flask, ids: dict[str, int]) -> list[tuple[str, str, set[str]]]:
    """(endpoint, url, methods) for every rule, its arguments filled with real or dummy ids."""
    sample: dict[str, Any] = {
        "activity_id": ids["activity"],
        "request_id": ids["request"],
        "offer_id": ids["offer"],
        "user_id": ids["user"],
        "org_id": ids["org"],
        "period_id": 1,
        "token": "x" * 32,
        "slug": "koffie",
        "answer": "accept",
        "filename": "css/meegaan.css",
    }
    out = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            args = {a: sample[a] for a in rule.arguments}
            url = url_for(rule.endpoint, **args).split("?")[0]
            out.append((rule.endpoint, url, set(rule.methods or ()) - {"HEAD", "OPTIONS"}))
    return out


@pytest.fixture()
def ids(staff: dict[str, Any], db: Session) -> dict[str, int]:
    a = f.activity(db, org=staff["organisation"])
    r = f.request(db, a)
    r.offers.append(RequestOffer(buddy_id=staff["buddy"].id, status="open", created_at=NOW))
    db.flush()
    return {
        "activity": a.id,
        "request": r.id,
        "offer": r.offers[0].id,
        "user": staff["buddy"].id,
        "org": staff["organisation"].id,
    }


def _check_headers(endpoint: str, url: str, headers: Any) -> list[str]:
    wrong = []
    csp = headers.get("Content-Security-Policy", "")
    for needed in (
        "default-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
    ):
        if needed not in csp:
            wrong.append(f"{url}: CSP lacks {needed}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        wrong.append(f"{url}: CSP allows unsafe code")
    if headers.get("X-Content-Type-Options") != "nosniff":
        wrong.append(f"{url}: no nosniff")
    if "camera=()" not in headers.get("Permissions-Policy", ""):
        wrong.append(f"{url}: no Permissions-Policy")
    referrer = headers.get("Referrer-Policy")
    if endpoint in TOKEN_ENDPOINTS and referrer != "no-referrer":
        wrong.append(f"{url}: a secret link's page sends a referrer ({referrer})")
    if "Strict-Transport-Security" in headers:
        wrong.append(f"{url}: HSTS over plain http")
    return wrong


@pytest.mark.parametrize("role", [None, "admin", "organiser", "buddy"])
def test_every_route_sends_the_security_headers(
    app: Flask, client: FlaskClient, auth: AuthActions, ids: dict[str, int], role: str | None
) -> None:
    if role:
        auth.login(f"{role}@example.be")
    wrong: list[str] = []
    for endpoint, url, methods in _urls(app, ids):
        if "GET" in methods:
            wrong += _check_headers(endpoint, url, client.get(url).headers)
        if "POST" in methods:
            wrong += _check_headers(endpoint, url, client.post(url).headers)
    assert wrong == []


def test_hsts_over_https_only(client: FlaskClient) -> None:
    secure = client.get("/", base_url="https://localhost")
    assert "max-age=31536000" in secure.headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in client.get("/").headers


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_state_changing_route_needs_a_csrf_token(
    app: Flask, client: FlaskClient, auth: AuthActions, ids: dict[str, int], signed_in: bool
) -> None:
    if signed_in:
        auth.login("admin@example.be")
    accepted = {}
    for _endpoint, url, methods in _urls(app, ids):
        if "POST" not in methods:
            continue
        for data in ({}, {"csrf_token": "forged"}):
            status = client.post(url, data=data).status_code
            if status != 400:
                accepted[url] = status
    assert accepted == {}


def test_robots_keep_private_pages_out(client: FlaskClient) -> None:
    text = client.get("/robots.txt").get_data(as_text=True)
    assert "Disallow: /manage/" in text and "Disallow: /r/" in text


def test_nobody_reaches_a_request_or_offer_by_changing_an_id(
    app: Flask, db: Session, staff: dict[str, Any]
) -> None:
    """Requests and offers of other people: not found, and nothing changes."""
    other_org = f.organisation(db, name="Ander huis")
    theirs = f.activity(db, org=other_org)
    welcomer = f.request(db, theirs, mode="welcomer")  # no coordinator, not our organiser
    someone = f.user(db, "andere-buddy@example.be", "buddy", display_name="Ander")
    offered = f.request(db, theirs)
    offered.offers.append(RequestOffer(buddy_id=someone.id, status="open", created_at=NOW))
    db.flush()
    for role in ("organiser", "coordinator", "buddy", "professional"):
        client = app.test_client()
        AuthActions(client).login(f"{role}@example.be")
        token = csrf_token(client, "/manage/")
        assert client.get(f"/manage/requests/{welcomer.id}").status_code in (403, 404)
        for action in ("confirm", "outcome", "cancel", "again", "followup", "offer", "link"):
            status = client.post(
                f"/manage/requests/{welcomer.id}/{action}", data={"csrf_token": token}
            ).status_code
            assert status in (400, 403, 404), (role, action, status)
        if role == "buddy":  # another buddy's offer
            client.post(f"/manage/offers/{offered.offers[0].id}/accept", data={"csrf_token": token})
    db.refresh(welcomer)
    db.refresh(offered)
    assert welcomer.status == "new" and welcomer.events[-1].action == "created"
    assert offered.buddy_id is None and offered.offers[0].status == "open"


def test_a_limited_visitor_gets_a_kind_page_in_their_language_with_retry_after(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    from finder.web.limits import limiter

    limiter.reset()
    a = f.activity(db)
    token = csrf_token(client, f"/activities/{a.id}/report")
    statuses = [
        client.post(f"/activities/{a.id}/report?lang=ar", data={"csrf_token": token})
        for _ in range(6)
    ]
    limiter.reset()
    blocked = statuses[-1]
    assert [s.status_code for s in statuses[:5]] == [302] * 5 and blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    html = blocked.get_data(as_text=True)
    assert 'lang="ar" dir="rtl"' in html and "محاولات كثيرة" in html


REDIS_SCRIPT = r"""
import json, sys, uuid
import redis
from finder import create_app
from finder.db import upgrade
app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                  "DATABASE_URL": sys.argv[1], "LOGIN_FREE_FAILURES": 3,
                  "LOGIN_LIMIT_PER_ADDRESS": "10000 per hour"})
upgrade(sys.argv[1])
client = app.test_client()
email = f"{uuid.uuid4().hex}@example.be"
codes = [client.post("/login", data={"email": email, "password": "x" * 12}).status_code
         for _ in range(4)]
last = client.post("/login", data={"email": email, "password": "x" * 12})
store = redis.Redis.from_url(app.config["RATELIMIT_STORAGE_URI"])
keys = [k.decode() for k in store.scan_iter("*meegaan/login-*")]
for k in keys + [k.decode() for k in store.scan_iter("*auth.login*")]:
    store.delete(k)
print(json.dumps({"codes": codes, "retry_after": last.headers.get("Retry-After"),
                  "keys": len(keys)}))
"""


def test_rate_limits_are_kept_in_redis_when_configured(tmp_path: Any) -> None:
    """In its own process: the limiter is one per process, and this one talks to Redis."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/15", "INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", REDIS_SCRIPT, f"sqlite:///{tmp_path / 'r.sqlite'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["codes"] == [400, 400, 400, 429]
    assert int(found["retry_after"]) > 0 and found["keys"] >= 1


def test_a_request_for_an_unknown_host_is_refused(client: FlaskClient, db: Session) -> None:
    """Production answers only for the hosts of PUBLIC_BASE_URL (or TRUSTED_HOSTS)."""
    from finder.models import Outbox

    assert client.get("/", base_url="http://evil.example").status_code == 400
    token = csrf_token(client, "/reset")
    refused = client.post(
        "/reset",
        headers={"Host": "evil.example"},
        data={"email": "admin@example.be", "csrf_token": token},
    )
    assert refused.status_code == 400
    assert db.query(Outbox).count() == 0
    assert client.get("/").status_code == 200


def test_links_in_mail_are_built_from_public_base_url_never_the_host_header(
    app: Flask, client: FlaskClient, db: Session, staff: dict[str, Any]
) -> None:
    """Even where every host is let in, a reset mail asked for with `Host: evil.example`
    links to the site's own address."""
    import re

    from finder.models import Outbox

    saved = {k: app.config[k] for k in ("PUBLIC_BASE_URL", "TRUSTED_HOSTS")}
    app.config.update(PUBLIC_BASE_URL="https://meegaan.example", TRUSTED_HOSTS=None)
    try:
        form = client.get("/reset", base_url="http://evil.example").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
        assert token
        sent = client.post(
            "/reset",
            base_url="http://evil.example",
            data={"email": "admin@example.be", "csrf_token": token.group(1)},
        )
        assert sent.status_code == 200, sent.text[-3000:]
    finally:
        app.config.update(saved)
    mail = db.query(Outbox).one()
    links = re.findall(r"https?://[^/\s\"]+/reset/", mail.body_text + mail.body_html)
    assert links and set(links) == {"https://meegaan.example/reset/"}


def test_production_refuses_to_start_without_its_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from finder import create_app
    from finder.config import UnsafeSettings

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(UnsafeSettings) as refused:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}"})
    assert "SECRET_KEY" in str(refused.value) and "PUBLIC_BASE_URL" in str(refused.value)

    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://meegaan.example")
    with pytest.raises(UnsafeSettings, match="https://"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}"})

    monkeypatch.setenv("PUBLIC_BASE_URL", "https://meegaan.example/")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}"})
    assert app.config["SECRET_KEY"] == "k" * 64
    assert app.config["PUBLIC_BASE_URL"] == "https://meegaan.example"
    assert app.config["TRUSTED_HOSTS"] == ["meegaan.example"]

    # A developer's machine: a key of its own per process, any host.
    monkeypatch.setenv("MEEGAAN_ENV", "development")
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.delenv("PUBLIC_BASE_URL")
    dev = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}"})
    assert len(dev.config["SECRET_KEY"]) == 64 and dev.config["TRUSTED_HOSTS"] is None


def _proxied_app(app: Flask, proxies: int) -> Flask:
    from finder import create_app

    proxied = create_app({**app.config, "PROXY_COUNT": proxies, "REPORT_LIMIT": "2 per hour"})
    proxied.extensions["meegaan_db"] = app.extensions["meegaan_db"]  # sees the test's rows
    return proxied


@pytest.mark.parametrize("proxies", [1, 0])
def test_behind_a_proxy_every_visitor_has_a_limit_of_their_own(
    app: Flask, db: Session, proxies: int
) -> None:
    """nginx adds the visitor's address to X-Forwarded-For: with PROXY_COUNT=1 each family has
    their own limit, and what a visitor writes in that header themselves is never believed.
    Without a proxy setting (0), the header is ignored: every request counts for the proxy."""
    from finder.web.limits import limiter

    proxied = _proxied_app(app, proxies)
    a = f.activity(db)
    limiter.reset()
    try:
        codes: dict[str, list[int]] = {}
        for visitor in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            client = proxied.test_client()
            token = csrf_token(client, f"/activities/{a.id}/report")
            codes[visitor] = [
                client.post(
                    f"/activities/{a.id}/report",
                    data={"csrf_token": token},
                    # nginx appends the address it saw to whatever the visitor sent
                    headers={"X-Forwarded-For": f"10.9.9.{i}, {visitor}"},
                ).status_code
                for i in range(3)
            ]
    finally:
        limiter.reset()
    if proxies:
        assert all(c == [302, 302, 429] for c in codes.values()), codes
    else:
        assert codes["203.0.113.1"] == [302, 302, 429], codes
        assert codes["203.0.113.2"] == codes["203.0.113.3"] == [429] * 3, codes


@pytest.mark.parametrize("role", [None, "admin", "professional", "coordinator"])
@pytest.mark.parametrize("huge", [2**31, 10**20])
def test_ids_beyond_the_database_range_are_not_found_never_a_server_error(
    app: Flask, client: FlaskClient, auth: AuthActions, ids: dict[str, int], role: str | None,
    huge: int,
) -> None:
    """PostgreSQL's INTEGER ends at 2**31 - 1: a larger id in an address or a form is
    "not found" (or "bad request"), on every route that takes one."""
    if role:
        auth.login(f"{role}@example.be")
    token = csrf_token(client, "/manage/" if role else "/login")
    seen = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            numbers = [a for a in rule.arguments if a.endswith("_id")]
            if not numbers:
                continue
            sample = {"answer": "accept", "slug": "x"}
            args = {a: huge if a in numbers else sample.get(a, "x" * 32) for a in rule.arguments}
            url = url_for(rule.endpoint, **args).split("?")[0]
            for method in set(rule.methods or ()) & {"GET", "POST"}:
                seen.append((method, url))
    seen += [
        ("GET", f"/manage/referrals/new?activity_id={huge}"),
        ("POST", f"/manage/requests/{ids['request']}/offer?buddy_id={huge}"),
    ]
    assert len(seen) > 20
    for method, url in seen:
        if method == "GET":
            status = client.get(url).status_code
        else:
            data = {"csrf_token": token, "buddy_id": str(huge), "activity_id": str(huge)}
            status = client.post(url.split("?")[0], data=data).status_code
        assert status in (200, 302, 400, 403, 404, 405), (method, url, status)


def test_an_id_is_written_one_way_only(client: FlaskClient, db: Session) -> None:
    """Leading zeros or digits of another script would give a page a second address (and the
    front cache a second copy)."""
    a = f.activity(db)
    assert client.get(f"/activities/{a.id}").status_code == 200
    for other in (f"0{a.id}", f"00{a.id}-x", "\u0661", "0", "-1"):
        assert client.get(f"/activities/{other}").status_code == 404, other
        assert client.get(f"/api/v1/activities/{other}").status_code == 404, other
