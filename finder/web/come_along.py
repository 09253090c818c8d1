"""A family asks someone to come along (no account, no JavaScript) and follows its private
status page /r/<token>: cancel, pick another date, accept the date the organiser proposes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_timedelta
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from .. import accompaniment as acc
from ..models import AccompanimentRequest, Activity
from . import limits
from .common import WebLinks, db, locale_code, now_utc, public_url, request_settings
from .forms import FamilyForm
from .i18n import gettext as _
from .public import _published
from .request_words import session_day

bp = Blueprint("come_along", __name__)

MESSAGES = {
    "session_unknown": lambda: _("Choose one of the dates."),
    "session_past": lambda: _("This date has passed. Choose one of the next dates."),
    "session_cancelled": lambda: _("This session is cancelled. Choose one of the next dates."),
    "session_full": lambda: _(
        "There is no more room for referred families that day. Choose another date."
    ),
    "no_sessions": lambda: _("There are no next dates planned."),
    "name_needed": lambda: _("Write a first name or a nickname."),
    "too_long": lambda: _("This is too long."),
    "channel_needed": lambda: _("Choose how we can reach you."),
    "contact_needed": lambda: _("Write a phone number or an e-mail address."),
    "phone_invalid": lambda: _(
        "This phone number is not complete or not right. Write it like 0470 12 34 56 or "
        "+32 470 12 34 56."
    ),
    "email_invalid": lambda: _(
        "This e-mail address cannot exist. Check it, for example name@example.be."
    ),
    "language_needed": lambda: _("Choose a language."),
    "adults_range": lambda: _("Choose a number from 1 to 12."),
    "children_range": lambda: _("Choose a number from 0 to 12."),
    "consent_needed": lambda: _("Tick the box to agree. Without it we cannot help."),
    "welcomer_needed": lambda: _("Write the name of the person who receives the family."),
    "closed": lambda: _("This request is closed."),
    "not_matchable": lambda: _("This request does not need a buddy."),
    "not_a_buddy": lambda: _("Choose one of the buddies."),
    "declined_before": lambda: _("This buddy said no to this request before."),
    "taken": lambda: _("Another buddy already goes along. Thank you for offering!"),
    "answered": lambda: _("You already answered this offer."),
    "unknown": lambda: _("Choose one of the options."),
    "too_early": lambda: _("You can tell how it went after the date."),
    "not_done": lambda: _("First tell how the visit went."),
    "mode_unknown": lambda: _("Choose who goes along."),
    "changed": lambda: _("Someone changed this request at the same moment. Look again."),
}


def message(code: str) -> str:
    return str(MESSAGES.get(code, MESSAGES["unknown"])())


def apply_errors(form: Any, errors: dict[str, str]) -> None:
    """Put the rules' error codes on the form's fields, in the reader's language."""
    for name, code in errors.items():
        field = getattr(form, name, None) or form.session
        field.errors = [*list(field.errors or []), message(code)]


def session_choices(activity: Activity) -> list[tuple[str, str]]:
    starts = acc.bookable_sessions(
        db(), activity, now_utc(), 6, current_app.config["OCCURRENCE_WEEKS"]
    )
    return [(s.isoformat(), session_day(s)) for s in starts]


def int_or_none(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def family_input(form: FamilyForm, contact_required: bool = True) -> acc.FamilyInput:
    return acc.FamilyInput(
        session=form.session.data or "",
        name=form.name.data or "",
        channel=form.channel.data or "",
        contact=form.contact.data or "",
        language=form.language.data or "",
        adults=int_or_none(form.adults.data),
        children=int_or_none(form.children.data),
        note=form.note.data or "",
        share_note=getattr(getattr(form, "share_note", None), "data", "") or "",
        bring=getattr(getattr(form, "bring", None), "data", "") or "",
        consent=bool(form.consent.data),
        contact_required=contact_required,
    )


def _quotas(activity: Activity, contact: str | None) -> list[limits.Quota]:
    """What an accepted come-along form counts against (web/limits.py): the same contact, the
    same activity from one connection, a burst from one connection. Never one activity for
    everyone: a few addresses could then close it to every family for a day."""
    cfg = current_app.config
    address = limits.client_address()  # as every other limit counts it (IPv6: per /64)
    quotas = [
        limits.Quota(
            "activity", cfg["COME_ALONG_LIMIT_PER_ACTIVITY"], f"{activity.id}|{address}"
        ),
        limits.Quota("address", cfg["COME_ALONG_LIMIT"], address),
    ]
    if contact:
        quotas.insert(0, limits.Quota("contact", cfg["COME_ALONG_LIMIT_PER_CONTACT"], contact))
    return quotas


def _wait_message(kind: str, seconds: int) -> str:
    """An honest wait, in the family's language, for a quota that is used up."""
    wait = format_timedelta(timedelta(seconds=seconds), threshold=1.0)
    if kind == "contact":
        return _(
            "You already asked several times with this phone number or e-mail address. "
            "The coordinator will contact you. To ask again, wait %(wait)s.",
            wait=wait,
        )
    return _(
        "Many questions were sent from this connection just now. Please wait %(wait)s and "
        "send again. Everything you typed is still here.",
        wait=wait,
    )


@bp.route("/activities/<int:activity_id>/come-along", methods=["GET", "POST"])
def ask(activity_id: int) -> str | BaseResponse | tuple[str, int, dict[str, str]]:
    activity = _published(activity_id)
    form = FamilyForm()
    limited = ""
    headers: dict[str, str] = {}
    choices = session_choices(activity)
    form.fill_choices(choices)
    if request.method == "GET":
        chosen = request.args.get("session", "")
        form.session.data = (
            chosen if chosen in dict(choices) else (choices[0][0] if choices else "any")
        )
        form.language.data = locale_code()  # the page's language: most often theirs
        form.channel.data = "phone"
    elif form.validate_on_submit():
        if form.website.data:  # the robots' field: say thanks, store nothing
            return render_template("come_along/robot.html")
        data = family_input(form)
        try:
            checked = acc.check_input(db(), activity, data, now_utc(), request_settings())
        except acc.RequestError as exc:
            apply_errors(form, exc.errors)
            if "session" in exc.errors:  # a stale date: offer the next ones again
                form.session.data = choices[0][0] if choices else "any"
        else:
            quotas = _quotas(activity, checked.contact)
            exhausted = limits.quota_exhausted(quotas)
            if exhausted is None:
                _created, raw = acc.create(
                    db(), activity, data, checked, "buddy", locale_code(), now_utc(), WebLinks()
                )
                db().commit()
                limits.spend(quotas)
                flash(_("Thank you. Your question is sent."))
                return redirect(url_for("come_along.status", token=raw, lang=locale_code()))
            quota, seconds = exhausted
            limited = _wait_message(quota.kind, seconds)
            headers["Retry-After"] = str(seconds)
    status = 429 if limited else 400 if request.method == "POST" else 200
    return render_template(
        "come_along/form.html", activity=activity, form=form, no_dates=not choices, limited=limited
    ), status, headers


def _by_token(token: str) -> AccompanimentRequest:
    """The request of a status link; any unknown, old or erased link gets the same 404."""
    found = acc.find_by_token(db(), token)
    if found is None:
        abort(404)
    g.page_locale = found.locale
    return found


def _private(body: str, status: int = 200) -> Response:
    """A page reached through a secret link: never sent on as a referrer, never cached."""
    response = make_response(body, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def qr_svg(link: str) -> Markup:
    """An inline SVG QR code of a link: take a photo of it or scan it later."""
    code = segno.make(link, error="m")
    svg = code.svg_inline(scale=4, dark="#1b1b1b", light="#ffffff", border=2, omitsize=False)
    return Markup(svg)


def answer_by(created_at: datetime) -> datetime:
    return created_at + timedelta(days=current_app.config["ANSWER_DAYS"])


@bp.get("/r/<token>")
def status(token: str) -> Response:
    return _status_page(_by_token(token), token, {})


def run_step(work: Any) -> dict[str, str] | None:
    """Do one step of a request and commit; the rules' errors come back to be shown, and a
    change by someone else at the same moment is retried on fresh data."""
    try:
        acc.atomically(db(), work)
    except acc.RequestError as exc:
        db().rollback()
        return exc.errors
    except acc.Conflict:
        return {"request": "changed"}
    return None


def _status_page(found: AccompanimentRequest, token: str, errors: dict[str, str]) -> Response:
    link = public_url("come_along.status", token=token)
    return _private(
        render_template(
            "come_along/status.html",
            r=found,
            token=token,
            link=link,
            qr=qr_svg(link),
            choices=session_choices(found.activity) if found.is_open else [],
            answer_by=answer_by(found.created_at),
            coordinated=found.status != "new" or acc.has_coordinator(db()),
            errors={k: message(v) for k, v in errors.items()},
        ),
        400 if errors else 200,
    )


@bp.route("/r/<token>/cancel", methods=["GET", "POST"])
def cancel(token: str) -> BaseResponse:
    """A cancel button is easy to touch by mistake on a phone: ask once more."""
    found = _by_token(token)
    if not found.is_open:
        return redirect(url_for("come_along.status", token=token))
    if request.method == "GET":
        return _private(render_template("come_along/cancel.html", r=found, token=token))
    errors = run_step(lambda: acc.cancel(db(), found, now_utc(), WebLinks(), request_settings()))
    if errors:
        return _status_page(found, token, errors)
    flash(_("Your question is cancelled. You can always ask again."))
    return redirect(url_for("come_along.status", token=token))


@bp.post("/r/<token>/date")
def change_date(token: str) -> BaseResponse | Response:
    found = _by_token(token)
    raw = request.form.get("session", "")
    try:
        starts_at = None if raw == "any" else datetime.fromisoformat(raw).replace(tzinfo=None)
    except ValueError:
        starts_at, raw = None, ""
    if not raw:
        return _status_page(found, token, {"session": "session_unknown"})
    told: list[int | None] = []
    errors = run_step(
        lambda: told.append(
            acc.change_date(db(), found, starts_at, now_utc(), WebLinks(), request_settings())
        )
    )
    if errors:
        return _status_page(found, token, errors)
    # Say only what happened: people are told only when they have an account to tell.
    if told and told[0] is None:
        flash(_("This was already the date of your question."))
    elif told and told[0]:
        flash(_("The date is changed. We told the people who help you."))
    else:
        flash(_("The date is changed."))
    return redirect(url_for("come_along.status", token=token))
