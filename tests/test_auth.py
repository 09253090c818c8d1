"""Staff sign-in, sessions, invitations and password resets, over HTTP with CSRF and real mail."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.models import AuditEvent, User, UserToken

from . import factories as f
from .conftest import NOW, PASSWORD, AuthActions, csrf_token


def _link(db: Session, to: str) -> str:
    mails = f.mails_to(db, to)
    assert mails, f"no mail to {to}"
    mail = mails[-1]
    return re.search(r"http://localhost(/\S+)", mail.body_text).group(1)  # type: ignore[union-attr]


def test_sign_in_and_out(client: FlaskClient, auth: AuthActions, staff: dict[str, Any]) -> None:
    assert client.get("/manage/").status_code == 302
    page = auth.login("ORGANISER@example.be ")  # case and spaces do not matter
    assert page.status_code == 302 and page.headers["Location"] == "/manage/?lang=nl"
    html = client.get("/manage/?lang=en").get_data(as_text=True)
    assert "Hello Organiser" in html and "Buurtcentrum Staff" in html
    assert "Sign out" in html
    auth.logout()
    assert client.get("/manage/").status_code == 302


def test_a_password_checked_before_the_account_changed_does_not_sign_in(
    db: Session, staff: dict[str, Any]
) -> None:
    """The password is checked outside the write transaction (Argon2 is slow): an account
    closed or given a new password in the meantime is refused when the sign-in is recorded."""
    from finder import accounts

    user = staff["professional"]
    checked = accounts.check_password(db, user.email, PASSWORD)
    assert checked == (user.id, user.password_hash)
    assert accounts.check_password(db, user.email, "niet het wachtwoord") is None
    user.password_hash = accounts.hash_password("een ander lang wachtwoord")
    assert accounts.record_login(db, checked, PASSWORD, NOW) is None
    assert user.last_login_at is None
    user.password_hash = checked[1]
    user.active = False
    assert accounts.record_login(db, checked, PASSWORD, NOW) is None
    user.active = True
    assert accounts.record_login(db, checked, PASSWORD, NOW) is user
    assert user.last_login_at == NOW


def test_wrong_password_says_so_without_telling_which(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any]
) -> None:
    for email in ("organiser@example.be", "nobody@example.be"):
        page = auth.login(email, "wrong password!")
        html = page.get_data(as_text=True)
        assert page.status_code == 400
        assert "Dit e-mailadres en wachtwoord horen niet bij een account." in html
        assert f'value="{email}"' in html  # what was typed is kept (not the password)
        assert "wrong password!" not in html


def test_closed_account_cannot_sign_in(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session
) -> None:
    staff["buddy"].active = False
    db.flush()
    assert auth.login("buddy@example.be").status_code == 400


def test_form_without_csrf_token_is_refused(client: FlaskClient, staff: dict[str, Any]) -> None:
    page = client.post("/login?lang=en", data={"email": "admin@example.be", "password": PASSWORD})
    assert page.status_code == 400
    assert "This form was open too long or came from elsewhere." in page.get_data(as_text=True)


def test_wrong_passwords_make_the_next_try_wait_longer_but_never_lock_the_account(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], app: Flask
) -> None:
    for _ in range(5):  # the first five are free
        assert auth.login("admin@example.be", "not it at all").status_code == 400
    sixth = auth.login("admin@example.be", "not it at all")
    assert sixth.status_code == 429 and sixth.headers["Retry-After"] == "5"
    assert "Wacht 5 seconden" in sixth.get_data(as_text=True)
    waiting = auth.login("admin@example.be")  # even the right password waits those seconds
    assert waiting.status_code == 429 and 'value="admin@example.be"' in waiting.text
    # Someone else's guesses never keep the owner out: from their own address they get in.
    owner = app.test_client()
    token = csrf_token(owner, "/login")
    signed_in = owner.post(
        "/login",
        data={"email": "admin@example.be", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert signed_in.status_code == 302
    assert auth.login("coordinator@example.be").status_code == 302  # another account is fine


def test_the_wait_doubles_with_each_wrong_password_up_to_a_quarter_of_an_hour(app: Flask) -> None:
    from finder.web import limits

    limits.limiter.reset()
    with app.test_request_context("/login", environ_base={"REMOTE_ADDR": "192.0.2.9"}):
        waits = [limits.login_failed("x@example.be") for _ in range(16)]
        assert limits.login_wait("x@example.be") > 0
        limits.login_succeeded("x@example.be")
        assert limits.login_wait("x@example.be") == 0
    limits.limiter.reset()
    assert waits[:5] == [0] * 5
    assert waits[5:12] == [5, 10, 20, 40, 80, 160, 320]
    assert waits[-1] == 900


def test_a_guesser_who_changes_address_waits_but_the_owners_browser_does_not(
    app: Flask, auth: AuthActions, staff: dict[str, Any]
) -> None:
    from finder.web.limits import limiter

    owner = app.test_client()
    AuthActions(owner).login("admin@example.be")  # this browser is known to the account now
    owner.post("/logout", data={"csrf_token": csrf_token(owner, "/manage/")})
    limiter.reset()
    free = app.config["LOGIN_ACCOUNT_FREE_FAILURES"]
    codes = []
    for i in range(free + 2):  # one wrong password from each of many addresses
        guesser = app.test_client()
        token = csrf_token(guesser, "/login")
        codes.append(
            guesser.post(
                "/login",
                data={"email": "admin@example.be", "password": "raden", "csrf_token": token},
                environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
            ).status_code
        )
    assert codes[:free] == [400] * free and codes[free:] == [429, 429]
    stranger = app.test_client()  # even the right password, from a browser never seen, waits
    token = csrf_token(stranger, "/login")
    waits = stranger.post(
        "/login",
        data={"email": "admin@example.be", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "203.0.113.99"},
    )
    assert waits.status_code == 429
    assert AuthActions(owner).login("admin@example.be").status_code == 302  # the owner gets in
    limiter.reset()


def test_addresses_of_one_ipv6_network_count_as_one(
    app: Flask, auth: AuthActions, staff: dict[str, Any]
) -> None:
    from finder.web.limits import limiter

    limiter.reset()
    codes = []
    for i in range(app.config["LOGIN_FREE_FAILURES"] + 1):
        guesser = app.test_client()
        token = csrf_token(guesser, "/login")
        codes.append(
            guesser.post(
                "/login",
                data={"email": "buddy@example.be", "password": "raden", "csrf_token": token},
                environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{i + 1:x}"},
            ).status_code
        )
    limiter.reset()
    assert codes[-1] == 429 and set(codes[:-1]) == {400}


def test_staff_who_sign_in_from_one_address_never_use_up_its_limit(
    app: Flask, auth: AuthActions, staff: dict[str, Any]
) -> None:
    """22 colleagues behind one office address all get in; only refused tries count."""
    limit = int(app.config["LOGIN_LIMIT_PER_ADDRESS"].split()[0])
    for _ in range(limit + 2):
        page = auth.login("coordinator@example.be")
        assert page.status_code == 302
        auth.logout()


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_no_open_redirect_after_sign_in(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], target: str
) -> None:
    page = auth.login("admin@example.be", next_url=target)
    assert page.status_code == 302 and page.headers["Location"].startswith("/manage/")


def test_sign_in_returns_to_the_page_asked_for(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any]
) -> None:
    redirect = client.get("/manage/users")
    assert redirect.headers["Location"].startswith("/login?next=/manage/users")
    page = auth.login("admin@example.be", next_url="/manage/users")
    assert page.headers["Location"] == "/manage/users"


def test_session_ends_after_inactivity(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], app: Flask
) -> None:
    auth.login("admin@example.be")
    idle = app.config["SESSION_IDLE_MINUTES"]
    with client.session_transaction() as s:
        s["seen"] = (NOW - timedelta(minutes=idle + 1)).isoformat()
    assert client.get("/manage/").status_code == 302


def test_sign_out_ends_every_copy_of_the_session(
    app: Flask, auth: AuthActions, staff: dict[str, Any]
) -> None:
    """A copy of the cookie taken before signing out (a shared computer) no longer works, and
    neither do the account's sessions on other devices."""
    other = app.test_client()
    AuthActions(other).login("admin@example.be")
    auth.login("admin@example.be")
    copied = auth.client.get_cookie("session")
    assert copied is not None
    assert auth.client.get("/manage/").status_code == 200
    auth.logout()
    assert auth.client.get("/manage/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied.value)
    assert thief.get("/manage/").status_code == 302
    assert other.get("/manage/").status_code == 302


def test_session_cookie_is_secure_http_only_and_lax_by_default(app: Flask) -> None:
    from finder import create_app
    from finder.config import from_env

    defaults = from_env("/tmp")
    assert defaults["SESSION_COOKIE_SECURE"] is True and defaults["DEMO_ACCOUNTS"] is False
    production = create_app({**app.config, "SESSION_COOKIE_SECURE": True})
    page = production.test_client().get("/login", base_url="https://localhost")
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Strict-Transport-Security" in page.headers


def test_invitation_to_first_sign_in(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session, app: Flask
) -> None:
    auth.login("admin@example.be")
    token = csrf_token(client, "/manage/users")
    page = client.post(
        "/manage/users",
        data={
            "csrf_token": token,
            "email": "Sara@Example.be",
            "display_name": "Sara",
            "role": "organiser",
            "organisation_id": staff["organisation"].id,
            "locale": "ar",
        },
    )
    assert page.status_code == 302
    sara = db.scalar(select(User).where(User.email == "sara@example.be"))
    assert sara is not None and sara.password_hash is None and sara.preferred_locale == "ar"
    (mail,) = f.mails_to(db, "sara@example.be")
    assert mail.locale == "ar" and "Meegaan" in mail.subject
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "invite")) is not None
    link = _link(db, "sara@example.be")
    assert link.endswith("?lang=ar")  # the link opens in the invitee's language
    link = link.split("?")[0]
    newcomer = app.test_client()
    form = newcomer.get(link + "?lang=en")
    assert form.status_code == 200 and "sara@example.be" in form.get_data(as_text=True)
    token = csrf_token(newcomer, link)
    short = newcomer.post(
        link + "?lang=en", data={"csrf_token": token, "password": "short", "confirm": "short"}
    )
    assert short.status_code == 400 and "Use at least 10 characters." in short.get_data(
        as_text=True
    )
    done = newcomer.post(
        link,
        data={
            "csrf_token": token,
            "password": "mijn nieuwe wachtwoord",
            "confirm": "mijn nieuwe wachtwoord",
        },
    )
    assert done.status_code == 302
    assert "Sara" in newcomer.get("/manage/").get_data(as_text=True)
    assert newcomer.get(link).status_code == 404  # the link works once


def test_password_reset_never_tells_whether_an_account_exists(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session
) -> None:
    answers = []
    for email in ("buddy@example.be", "nobody@example.be"):
        token = csrf_token(client, "/reset")
        page = client.post("/reset?lang=en", data={"csrf_token": token, "email": email})
        answers.append((page.status_code, page.get_data(as_text=True).split("<main", 1)[1]))
    assert answers[0] == answers[1]
    assert f.mails_to(db, "nobody@example.be") == []
    link = _link(db, "buddy@example.be").split("?")[0]
    token = csrf_token(client, link)
    client.post(
        link,
        data={
            "csrf_token": token,
            "password": "een ander wachtwoord",
            "confirm": "een ander wachtwoord",
        },
    )
    auth.logout()
    assert auth.login("buddy@example.be").status_code == 400  # the old password is gone
    assert auth.login("buddy@example.be", "een ander wachtwoord").status_code == 302


def test_expired_or_unknown_link_is_refused(
    client: FlaskClient, staff: dict[str, Any], db: Session, app: Flask
) -> None:
    from finder.accounts import issue_token

    raw = issue_token(db, staff["buddy"], "reset", NOW - timedelta(hours=3))
    db.flush()
    assert client.get(f"/reset/{raw}?lang=en").status_code == 404
    assert client.get("/reset/not-a-token").status_code == 404
    assert client.get(f"/invite/{raw}").status_code == 404  # a reset link is no invitation
    assert db.scalar(select(UserToken.token_hash)) != raw  # only the hash is stored


def test_organiser_invites_only_into_their_own_organisation(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session
) -> None:
    from finder.models import Organisation

    other = Organisation(name="Elders", kind="other", verified=True, created_at=NOW)
    db.add(other)
    db.flush()
    auth.login("organiser@example.be")
    token = csrf_token(client, "/manage/users")
    for role, org in (("admin", staff["organisation"].id), ("organiser", other.id)):
        page = client.post(
            "/manage/users",
            data={
                "csrf_token": token,
                "email": f"{role}2@example.be",
                "display_name": "X",
                "role": role,
                "organisation_id": org,
                "locale": "nl",
            },
        )
        assert page.status_code == 400
    assert (
        db.scalar(
            select(User).where(User.email.in_(["admin2@example.be", "organiser2@example.be"]))
        )
        is None
    )


def test_a_new_instance_gets_its_first_organisation_from_an_invited_organiser(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session, app: Flask
) -> None:
    """The admin invites an organiser with no organisation yet; they register theirs."""
    from finder.models import Organisation

    auth.login("admin@example.be")
    token = csrf_token(client, "/manage/users")
    page = client.post(
        "/manage/users",
        data={
            "csrf_token": token,
            "email": "nieuw@buurtwerk.be",
            "display_name": "Nieuw",
            "role": "organiser",
            "organisation_id": 0,
            "locale": "nl",
        },
    )
    assert page.status_code == 302
    invited = db.scalars(select(User).where(User.email == "nieuw@buurtwerk.be")).one()
    assert invited.role == "organiser" and invited.organisation_id is None
    organiser = app.test_client()
    link = _link(db, "nieuw@buurtwerk.be")
    organiser.post(
        link,
        data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_token(organiser, link)},
    )
    home = organiser.get("/manage/?lang=en").get_data(as_text=True)
    assert "First register your organisation" in home
    form = "/manage/organisation"
    saved = organiser.post(
        form,
        data={
            "csrf_token": csrf_token(organiser, form),
            "name": "Buurtwerk Nieuw",
            "kind": "community_centre",
            "street": "Dorpsstraat 1",
            "postcode": "9000",
            "contact_email": "info@buurtwerk.be",
        },
    )
    assert saved.status_code == 302, saved.text
    db.refresh(invited)
    assert invited.organisation is not None
    registered = db.scalars(select(Organisation).where(Organisation.name == "Buurtwerk Nieuw"))
    assert registered.one().verified is False  # the admin verifies it


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (None, 302),
        ("professional", 403),
        ("buddy", 403),
        ("coordinator", 403),
        ("organiser", 200),
        ("admin", 200),
    ],
)
def test_people_page_is_for_admins_and_organisers(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], role: str | None, status: int
) -> None:
    if role:
        auth.login(f"{role}@example.be")
    assert client.get("/manage/users").status_code == status
    if role:
        assert client.get("/manage/").status_code == 200


def test_an_organiser_without_an_organisation_sees_only_themselves(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session
) -> None:
    """"No organisation" is not an organisation that every staff member without one shares."""
    staff["organiser"].organisation_id = None
    db.flush()
    auth.login("organiser@example.be")
    html = client.get("/manage/users?lang=en").get_data(as_text=True)
    assert "organiser@example.be" in html
    for other in ("admin", "buddy", "coordinator", "professional"):
        assert f"{other}@example.be" not in html
    assert "Send the invitation" not in html and "First register your organisation" in html


def test_admin_changes_a_role_and_closes_an_account_which_ends_its_sessions(
    app: Flask, client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session
) -> None:
    buddy_client = app.test_client()
    AuthActions(buddy_client).login("buddy@example.be")
    auth.login("admin@example.be")
    token = csrf_token(client, "/manage/users")
    buddy = staff["buddy"]
    client.post(
        f"/manage/users/{buddy.id}",
        data={"csrf_token": token, "role": "coordinator", "active": "1"},
    )
    db.refresh(buddy)
    assert buddy.role == "coordinator"
    client.post(
        f"/manage/users/{buddy.id}",
        data={"csrf_token": token, "role": "coordinator", "active": "0"},
    )
    db.refresh(buddy)
    assert not buddy.active
    assert buddy_client.get("/manage/").status_code == 302  # signed out at once
    admin = staff["admin"]
    page = client.post(
        f"/manage/users/{admin.id}?lang=en",
        data={"csrf_token": token, "role": "admin", "active": "0"},
        follow_redirects=True,
    )
    assert "You cannot close your own account" in page.get_data(as_text=True)
    db.refresh(admin)
    assert admin.active
    log = client.get("/manage/audit").get_data(as_text=True)
    assert "user_changed" in log and "role buddy -&gt; coordinator" in log
