"""Sign in and out, invitations and password resets for staff. Families never need an account."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from babel.dates import format_datetime
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response as BaseResponse

from .. import accounts
from ..db import Database
from ..models import User
from ..schedule import to_local
from . import limits
from .common import db, now_utc, public_url
from .forms import LoginForm, ResetRequestForm, SetPasswordForm
from .i18n import gettext as _
from .i18n import ngettext
from .limits import limiter, refused

bp = Blueprint("auth", __name__)

# Checked on every request that carries a session; written at most once a minute.
SEEN_EVERY = timedelta(minutes=1)


def load_user() -> None:
    """Put the signed-in user on `g`; end sessions that are idle, stale or of a closed account."""
    g.user = None
    user_id = session.get("uid")
    if user_id is None:
        return
    now = now_utc()
    seen = datetime.fromisoformat(session.get("seen", "2000-01-01T00:00:00"))
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    user = db().get(User, user_id)
    if (
        user is None
        or not user.active
        or user.session_version != session.get("ver")
        or now - seen > idle
    ):
        session.clear()
        return
    g.user = user
    if now - seen > SEEN_EVERY:
        session["seen"] = now.isoformat()


bp.before_app_request(load_user)


def _start_session(user: User) -> None:
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["ver"] = user.session_version
    session["seen"] = now_utc().isoformat()


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target:
        parts = urlsplit(target)
        local = not parts.scheme and not parts.netloc and target.startswith("/")
        if local and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("manage.dashboard")


def expires_words(moment: datetime, locale: str) -> str:
    return format_datetime(to_local(moment), "d MMMM y, HH:mm", locale=locale)


def role_words(role: str, locale: str) -> str:
    with force_locale(locale):
        return str(_(accounts.ROLE_LABELS[role]))


def token_link(purpose: str, raw: str, locale: str) -> str:
    """The link in the mail, opening in the recipient's language."""
    endpoint = "auth.accept_invite" if purpose == "invite" else "auth.reset_password"
    return public_url(endpoint, token=raw, lang=locale)


# A browser an account signed in from before: guesses at the account from elsewhere do not
# slow it down (web/limits.py). A signed list of account digests, sent only to /login.
KNOWN_COOKIE = "known"
KNOWN_DAYS = 180
KNOWN_ACCOUNTS = 5  # a shared office computer


def _known_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-browser")


def _known_accounts() -> list[str]:
    raw = request.cookies.get(KNOWN_COOKIE, "")
    try:
        found = _known_serializer().loads(raw, max_age=KNOWN_DAYS * 24 * 3600) if raw else []
    except BadSignature:
        return []
    return [str(d) for d in found][:KNOWN_ACCOUNTS] if isinstance(found, list) else []


def _remember_browser(response: BaseResponse, email: str) -> None:
    mine = limits.account_digest(email)
    known = [mine, *[d for d in _known_accounts() if d != mine]][:KNOWN_ACCOUNTS]
    response.set_cookie(
        KNOWN_COOKIE,
        _known_serializer().dumps(known),
        max_age=KNOWN_DAYS * 24 * 3600,
        path=url_for("auth.login", lang=None),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"], deduct_when=refused
)
def login() -> str | BaseResponse | tuple[str, int, dict[str, str]]:
    if g.user is not None:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    headers: dict[str, str] = {}
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        known = limits.account_digest(form.email.data) in _known_accounts()
        wait = limits.login_wait(form.email.data, known)
        user = None
        if not wait:
            # The password is checked in a session of its own that only reads, before the
            # request's transaction starts: on SQLite that one holds the write lock, and Argon2
            # is slow.
            database: Database = current_app.extensions["meegaan_db"]
            with database.session() as reading:
                checked = accounts.check_password(reading, form.email.data, form.password.data)
            if checked is not None:
                user = accounts.record_login(db(), checked, form.password.data, now_utc())
        if user is not None:
            limits.login_succeeded(form.email.data)
            accounts.audit(db(), user, "login", "user", user.id, now_utc())
            db().commit()
            _start_session(user)
            response = redirect(safe_next(request.args.get("next")))
            _remember_browser(response, form.email.data)
            return response
        if not wait:
            wait = limits.login_failed(form.email.data, known)
            error = _("This e-mail address and password do not match an account.")
        if wait:
            status, headers = 429, {"Retry-After": str(wait)}
            error = ngettext(
                "Too many wrong passwords for this account. Wait %(num)d second, "
                "then try again. Forgot your password? Ask for a new one below.",
                "Too many wrong passwords for this account. Wait %(num)d seconds, "
                "then try again. Forgot your password? Ask for a new one below.",
                wait,
            )
    return render_template("auth/login.html", form=form, error=error), status, headers


@bp.post("/logout")
def logout() -> BaseResponse:
    """Sign out for real: the account's session version goes up, so that a copy of the cookie
    taken before (a shared computer, a stolen phone) stops working too; so do the account's
    sessions on other devices."""
    if g.user is not None:
        g.user.session_version += 1
        accounts.audit(db(), g.user, "logout", "user", g.user.id, now_utc())
        db().commit()
    session.clear()
    flash(_("You are signed out on every device."))
    return redirect(url_for("auth.login"))


def _password_page(purpose: str, token: str) -> str | BaseResponse | tuple[str, int]:
    # The link is checked and the new password hashed before the request's transaction (on
    # SQLite, the write lock) starts: Argon2 is slow, and only a real link is worth its time.
    database: Database = current_app.extensions["meegaan_db"]
    with database.session() as reading:
        real = accounts.find_token(reading, token, purpose, now_utc()) is not None
    if not real:
        return render_template("auth/link_invalid.html"), 404
    form = SetPasswordForm()
    valid = form.validate_on_submit()
    hashed = accounts.hash_password(form.password.data) if valid else None
    found = accounts.find_token(db(), token, purpose, now_utc())
    if found is None:  # used up a moment ago
        return render_template("auth/link_invalid.html"), 404
    error = None
    if valid:
        try:
            user = accounts.use_token(
                db(), token, purpose, form.password.data, now_utc(), hashed
            )
        except accounts.AccountError as exc:
            error = account_message(exc.code)
        else:
            db().commit()
            _start_session(user)
            flash(_("Your password is saved. Welcome, %(name)s.", name=user.display_name))
            return redirect(url_for("manage.dashboard"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "auth/set_password.html", form=form, error=error, purpose=purpose, user=found.user
    ), status


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> str | BaseResponse | tuple[str, int]:
    return _password_page("invite", token)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> str | BaseResponse | tuple[str, int]:
    return _password_page("reset", token)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
def request_reset() -> str | tuple[str, int]:
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_reset(db(), form.email.data, now_utc(), token_link, expires_words)
        db().commit()
        return render_template("auth/reset_sent.html")
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_request.html", form=form), status


def account_message(code: str) -> str:
    messages = {
        "password_too_short": _(
            "Use at least %(min)d characters.", min=accounts.MIN_PASSWORD_LENGTH
        ),
        "password_too_long": _("Use at most %(max)d characters.", max=200),
        "password_is_email": _("Do not use your e-mail address as password."),
        "link_invalid": _("This link does not work any more. Ask for a new one."),
        "email_taken": _("There is already an account with this e-mail address."),
        "organisation_needed": _("Choose the organisation of this organiser."),
        "not_allowed": _("You may not give this role."),
        "not_yourself": _("You cannot close your own account or take away your own admin role."),
    }
    return messages.get(code, _("Something went wrong on our side. Please try again in a moment."))
