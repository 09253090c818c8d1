"""Staff side of going along, under /manage: requests and referrals, the organiser's
confirmation, the coordinator's matching, the buddy's answer, outcomes and follow-ups."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from itsdangerous import BadSignature
from markupsafe import Markup
from sqlalchemy import func, select

from .. import accompaniment as acc
from ..geo import gazetteer
from ..mapview import MapPoint, build_map
from ..models import AccompanimentRequest, Activity, BuddyProfile, RequestOffer, User
from ..taxonomy import LANGUAGES
from .come_along import (
    apply_errors,
    family_input,
    message,
    qr_svg,
    run_step,
    session_choices,
)
from .common import (
    WebLinks,
    db,
    list_args,
    locale_code,
    now_utc,
    offer_serializer,
    parse_id,
    public_url,
    request_settings,
    writes,
)
from .decorators import roles_required
from .forms import BuddyProfileForm, ConfirmRequestForm, ReferralForm
from .i18n import gettext as _
from .present import activity_url
from .public import _published
from .templating import endonym

bp = Blueprint("requests", __name__, url_prefix="/manage")

STAFF = ("professional", "organiser", "buddy", "coordinator", "admin")
# Who can be involved in a request; the admin sees only the anonymous figures.
INVOLVED = ("professional", "organiser", "buddy", "coordinator")
OFFER_LINK_DAYS = 14
SLOTS = [(f"{day}-{part}", day, part) for day in acc.WEEKDAY_CODES for part in ("am", "pm", "eve")]


def _request(request_id: int) -> tuple[AccompanimentRequest, str]:
    """The request and how this user is involved; 404 for anyone not involved (its existence
    is not told)."""
    found = db().get(AccompanimentRequest, request_id)
    if found is None:
        abort(404)
    involvement = acc.role_in(found, g.user)
    if involvement is None:
        abort(404)
    return found, involvement


def _involved(request_id: int, *allowed: str) -> AccompanimentRequest:
    found, involvement = _request(request_id)
    if involvement not in allowed:
        abort(403)
    return found


def _parse_start(raw: str) -> datetime | None:
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=None)
    except ValueError:
        return None


@bp.get("/requests")
@roles_required(*STAFF)
def index() -> str:
    user: User = g.user
    if user.role == "admin":
        return render_template("manage/requests_figures.html", figures=_figures())
    search, number, per_page = list_args()
    closed = request.args.get("state") == "closed"
    page = acc.request_page(db(), user, not closed, search, number, per_page)
    return render_template(
        "manage/requests.html",
        page=page,
        closed=closed,
        q=search,
        summary=acc.request_summary(db(), user),
    )


def _figures() -> dict[str, Any]:
    """Anonymous counts for the admin: no family appears, only activities and outcomes. The
    database counts each combination once (never a row per request)."""
    columns = (
        AccompanimentRequest.status,
        AccompanimentRequest.mode,
        AccompanimentRequest.outcome,
        Activity.category,
        Activity.municipality,
    )
    rows = db().execute(select(*columns, func.count()).join(Activity).group_by(*columns)).all()
    status: Counter[str] = Counter()
    mode: Counter[str] = Counter()
    outcome: Counter[str] = Counter()
    category: Counter[str] = Counter()
    municipality: Counter[str] = Counter()
    for row in rows:
        n = row[5]
        status[row.status] += n
        mode[row.mode] += n
        if row.outcome:
            outcome[row.outcome] += n
        category[row.category] += n
        municipality[row.municipality] += n
    return {
        "total": status.total(),
        "status": status,
        "mode": mode,
        "outcome": outcome,
        "category": category.most_common(),
        "municipality": municipality.most_common(20),
    }


@bp.get("/requests/<int:request_id>")
@writes  # who saw a family's details is logged
@roles_required(*INVOLVED)
def detail(request_id: int) -> str:
    found, involvement = _request(request_id)
    personal = acc.sees_contact(involvement) or involvement == "organiser"
    if personal and found.purged_at is None:
        acc.log_access(db(), g.user, found, now_utc())
        db().commit()
    confirm_form = ConfirmRequestForm()
    choices = session_choices(found.activity) if found.is_open else []
    confirm_form.session.choices = choices
    if found.session_starts_at is not None:
        confirm_form.session.data = found.session_starts_at.isoformat()
    if not confirm_form.welcomer.data:
        confirm_form.welcomer.data = found.welcomer_name or (
            g.user.display_name if involvement == "organiser" else ""
        )
    confirm_form.meeting_point.data = confirm_form.meeting_point.data or found.meeting_point
    return _detail_page(found, involvement, confirm_form, choices)


def _detail_page(
    found: AccompanimentRequest,
    involvement: str,
    confirm_form: ConfirmRequestForm,
    choices: list[tuple[str, str]],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    suggestions = (
        acc.suggest_buddies(db(), found, now_utc())
        if involvement == "coordinator" and found.is_open and found.buddy_id is None
        else []
    )
    places = (
        acc.places_left(db(), found.activity, found.session_starts_at)
        if found.session_starts_at is not None
        else None
    )
    own_offer = next(
        (o for o in found.offers if o.buddy_id == g.user.id and o.status == "open"), None
    )
    goes_along = acc.records_outcome(found, involvement)
    return render_template(
        "manage/request.html",
        r=found,
        involvement=involvement,
        sees_contact=acc.sees_contact(involvement),
        confirm_form=confirm_form,
        choices=choices,
        suggestions=suggestions,
        places=places,
        own_offer=own_offer,
        goes_along=goes_along,
        errors={k: message(v) for k, v in (errors or {}).items()},
        now=now_utc(),
        language_name=lambda code: LANGUAGES.get(code, code),
    ), status


@bp.post("/requests/<int:request_id>/confirm")
@roles_required("organiser")
def confirm(request_id: int) -> Any:
    found = _involved(request_id, "organiser")
    form = ConfirmRequestForm()
    choices = session_choices(found.activity)
    form.session.choices = choices
    if not form.validate_on_submit():
        abort(400)
    action = request.form.get("action", "confirm")
    starts_at = _parse_start(form.session.data or "")
    if starts_at is None:
        errors: dict[str, str] | None = {"session": "session_unknown"}
    elif action == "propose":
        errors = run_step(
            lambda: acc.propose_date(
                db(), found, g.user, starts_at, now_utc(), WebLinks(), request_settings()
            )
        )
    else:
        errors = run_step(
            lambda: acc.confirm(
                db(),
                found,
                g.user,
                starts_at,
                form.welcomer.data or "",
                form.meeting_point.data or "",
                now_utc(),
                WebLinks(),
                request_settings(),
            )
        )
    if errors:
        found = db().get_one(AccompanimentRequest, request_id)
        for name, code in errors.items():
            field = getattr(form, name, form.session)
            field.errors = [message(code)]
        return _detail_page(found, "organiser", form, choices, status=400)
    flash(
        _("We told the family that you propose another day.")
        if action == "propose"
        else _("Confirmed. We told everyone who goes.")
    )
    return redirect(url_for("requests.detail", request_id=request_id))


@bp.post("/requests/<int:request_id>/offer")
@roles_required("coordinator")
def offer(request_id: int) -> Any:
    found = _involved(request_id, "coordinator")
    buddy_id = parse_id(request.form.get("buddy_id"))
    if buddy_id is None:
        abort(400)
    buddy = db().get(User, buddy_id)
    if buddy is None:
        abort(400)
    errors = run_step(lambda: acc.offer(db(), found, g.user, buddy, now_utc(), WebLinks()))
    if errors:
        return _back_with(request_id, errors)
    flash(_("Offered to %(name)s. We sent them an e-mail.", name=buddy.display_name))
    return redirect(url_for("requests.detail", request_id=request_id))


def _back_with(request_id: int, errors: dict[str, str]) -> Any:
    found, involvement = _request(request_id)
    form = ConfirmRequestForm()
    choices = session_choices(found.activity) if found.is_open else []
    form.session.choices = choices
    return _detail_page(found, involvement, form, choices, errors=errors, status=400)


@bp.post("/requests/<int:request_id>/cancel")
@roles_required("professional", "coordinator")
def cancel(request_id: int) -> Any:
    found = _involved(request_id, "referrer", "coordinator")
    told: list[int] = []
    errors = run_step(
        lambda: told.append(
            acc.cancel(db(), found, now_utc(), WebLinks(), request_settings(), g.user)
        )
    )
    if errors:
        return _back_with(request_id, errors)
    flash(_("Cancelled. We told the others.") if told and told[0] else _("Cancelled."))
    return redirect(url_for("requests.detail", request_id=request_id))


@bp.post("/requests/<int:request_id>/outcome")
@roles_required(*INVOLVED)
def outcome(request_id: int) -> Any:
    found, involvement = _request(request_id)
    if not acc.records_outcome(found, involvement):
        abort(403)
    choice = request.form.get("outcome", "")
    errors = run_step(
        lambda: acc.record_outcome(db(), found, g.user, choice, now_utc(), request_settings())
    )
    if errors:
        return _back_with(request_id, errors)
    flash(_("Thank you. We keep how it went."))
    return redirect(url_for("requests.detail", request_id=request_id))


@bp.post("/requests/<int:request_id>/followup")
@roles_required("professional", "buddy", "coordinator")
def followup(request_id: int) -> Any:
    found = _involved(request_id, "referrer", "buddy", "coordinator")
    answer = request.form.get("answer", "")
    errors = run_step(
        lambda: acc.answer_followup(db(), found, g.user, answer, now_utc(), request_settings())
    )
    if errors:
        return _back_with(request_id, errors)
    flash(_("Thank you. We keep your answer."))
    return redirect(url_for("requests.detail", request_id=request_id))


@bp.post("/requests/<int:request_id>/again")
@roles_required("professional", "buddy", "coordinator")
def again(request_id: int) -> Any:
    found = _involved(request_id, "referrer", "buddy", "coordinator")
    result: dict[str, Any] = {}

    def work() -> None:
        result["request"], result["raw"] = acc.go_again(
            db(), found, g.user, now_utc(), WebLinks(), request_settings()
        )

    errors = run_step(work)
    if errors:
        return _back_with(request_id, errors)
    flash(
        _(
            "Done: the next visit is asked. Code %(reference)s.",
            reference=result["request"].reference,
        )
    )
    return redirect(url_for("requests.detail", request_id=result["request"].id))


@bp.post("/requests/<int:request_id>/link")
@roles_required("professional")
def new_link(request_id: int) -> Any:
    """A new private link for the family (the old one stops working), with the slip."""
    found = _involved(request_id, "referrer")
    if not found.is_open or found.purged_at is not None:
        abort(400)
    raw = acc.new_token(found)
    db().commit()
    return _slip(found, raw)


def _slip(found: AccompanimentRequest, raw: str) -> str:
    """The page after a referral: the family's link and a printable slip in the family's
    language and in Dutch."""
    link = public_url("come_along.status", token=raw, lang=found.locale)
    qr = qr_svg(link)
    slips = []
    for loc in dict.fromkeys([found.locale, "nl"]):
        with force_locale(loc):
            slips.append(
                Markup(render_template("manage/slip.html", r=found, qr=qr, slip_locale=loc))
            )
    a = found.activity
    cfg = current_app.config
    fmap = build_map(
        [MapPoint(a.lat, a.lon, a.title, activity_url(a), a.street)],
        (a.lat, a.lon),
        cfg["MAP_TILE_URL"],
        cfg["MAP_TILE_ATTRIBUTION"],
        zoom=16,
    )
    return render_template(
        "manage/referral_created.html", r=found, link=link, slips=slips, fmap=fmap
    )


# --- referrals -------------------------------------------------------------------------------


@bp.route("/referrals/new", methods=["GET", "POST"])
@roles_required("professional")
def new_referral() -> Any:
    activity_id = parse_id(request.values.get("activity_id"))
    if activity_id is None:
        return render_template("manage/referral_pick.html"), 200
    activity = _published(activity_id)
    form = ReferralForm()
    choices = session_choices(activity)
    locales = [(code, endonym(code)) for code in current_app.config["LANGUAGES"]]
    form.fill_referral_choices(choices, locales)
    if request.method == "GET":
        form.session.data = choices[0][0] if choices else "any"
        form.mode.data, form.locale.data = "professional", locale_code()
    elif form.validate_on_submit():
        if form.website.data:
            abort(400)
        data = family_input(form, contact_required=False)
        errors: dict[str, str] = {}
        if form.mode.data not in ("professional", "buddy", "welcomer"):
            errors["mode"] = "mode_unknown"
        if form.locale.data not in current_app.config["LANGUAGES"]:
            errors["locale"] = "unknown"
        try:
            checked = acc.check_input(db(), activity, data, now_utc(), request_settings())
        except acc.RequestError as exc:
            errors.update(exc.errors)
        if not errors:
            created, raw = acc.create(
                db(),
                activity,
                data,
                checked,
                form.mode.data,
                form.locale.data,
                now_utc(),
                WebLinks(),
                referrer=g.user,
            )
            db().commit()
            return _slip(created, raw)
        apply_errors(form, errors)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "manage/referral_form.html", activity=activity, form=form, no_dates=not choices
    ), status


# --- buddies ---------------------------------------------------------------------------------


@bp.route("/buddy-profile", methods=["GET", "POST"])
@roles_required("buddy")
def buddy_profile() -> Any:
    user: User = g.user
    profile = db().get(BuddyProfile, user.id)
    form = BuddyProfileForm()
    form.languages.choices = list(LANGUAGES.items())
    form.availability.choices = [(code, code) for code, _, _ in SLOTS]
    if request.method == "GET" and profile is not None:
        form.languages.data = profile.language_codes
        form.postcode.data = profile.postcode
        form.radius_km.data = profile.radius_km
        form.availability.data = sorted(profile.slots)
        form.max_open.data = profile.max_open
        form.active.data = profile.active
    elif request.method == "GET":
        form.languages.data, form.active.data = [user.preferred_locale], True
    if form.validate_on_submit():
        entry = gazetteer().by_postcode.get(form.postcode.data or "")
        if entry is None:
            form.postcode.errors = [_("We do not know this postcode.")]
        elif not form.languages.data:
            form.languages.errors = [_("Tick at least one language.")]
        else:
            if profile is None:
                profile = BuddyProfile(user_id=user.id)
                db().add(profile)
            profile.languages = "," + ",".join(form.languages.data) + ","
            profile.postcode = form.postcode.data or ""
            profile.lat, profile.lon = entry.lat, entry.lon
            profile.radius_km = form.radius_km.data or 10
            profile.availability = ",".join(
                s for s in form.availability.data or [] if s in {c for c, _, _ in SLOTS}
            )
            profile.max_open = form.max_open.data or 2
            profile.active = bool(form.active.data)
            profile.updated_at = now_utc()
            db().commit()
            flash(_("Saved. The coordinator sees it when looking for a buddy."))
            return redirect(url_for("requests.buddy_profile"))
    status = 400 if request.method == "POST" else 200
    return render_template("manage/buddy_profile.html", form=form, slots=SLOTS), status


def _answer(offer_id: int, buddy: User, yes: bool) -> tuple[AccompanimentRequest | None, str]:
    """Accept or decline; returns the request (None when not found) and a message code."""
    result: dict[str, AccompanimentRequest] = {}

    def work() -> None:
        result["r"] = (acc.accept if yes else acc.decline)(
            db(), offer_id, buddy, now_utc(), WebLinks()
        )

    errors = run_step(work)
    if errors:
        return None, next(iter(errors.values()))
    return result["r"], "accepted" if yes else "declined"


@bp.post("/offers/<int:offer_id>/<any(accept, decline):answer>")
@roles_required("buddy")
def answer_offer(offer_id: int, answer: str) -> Any:
    found, code = _answer(offer_id, g.user, answer == "accept")
    if found is None:
        flash(message(code))
        return redirect(url_for("requests.index"))
    flash(
        _("Thank you! You go along. Here is what you need.")
        if code == "accepted"
        else _("Thank you for telling us. We ask someone else.")
    )
    if code == "accepted":
        return redirect(url_for("requests.detail", request_id=found.id))
    return redirect(url_for("requests.index"))


@bp.route("/offers/link/<token>", methods=["GET", "POST"])
def offer_link(token: str) -> Any:
    """The link in the buddy's mail: answer on a phone without signing in. It shows nothing
    about the family; after a yes, the buddy signs in to see the name and contact."""
    try:
        offer_id = offer_serializer().loads(token, max_age=OFFER_LINK_DAYS * 24 * 3600)
    except BadSignature:
        return render_template("auth/link_invalid.html"), 404
    current = db().get(RequestOffer, offer_id)
    if current is None:
        return render_template("auth/link_invalid.html"), 404
    code = ""
    if request.method == "POST":  # CSRF checked like every form
        yes = request.form.get("answer") == "accept"
        _found, code = _answer(offer_id, current.buddy, yes)
        db().expire_all()
        current = db().get_one(RequestOffer, offer_id)
    return render_template(
        "manage/offer_link.html",
        offer=current,
        r=current.request,
        code=code,
        code_message=message(code) if code not in ("", "accepted", "declined") else "",
    )
