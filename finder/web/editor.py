"""The activity editor under /manage/activities: list, new, edit with preview, duplicate, status."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from decimal import Decimal

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
from itsdangerous import BadSignature
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as BaseResponse

from .. import editing, freshness, taxonomy
from ..geo import gazetteer
from ..models import Activity, User
from ..schedule import Recurrence, from_rrule, parse_exdates
from ..search import Hit
from .common import confirm_serializer, db, edit_settings, list_args, now_utc
from .decorators import roles_required
from .forms import ActivityForm
from .i18n import gettext as _
from .present import listing, schedule_words

bp = Blueprint("editor", __name__, url_prefix="/manage/activities")

EDITORS = ("organiser", "admin")
_DATE = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})|(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_exceptions(text: str) -> tuple[list[date], list[str]]:
    """Dates typed as 25-12-2026, 25/12/2026 or 2026-12-25, one per line or comma-separated."""
    dates, bad = [], []
    for piece in re.split(r"[\n,;]+", text or ""):
        piece = piece.strip()
        if not piece:
            continue
        m = _DATE.fullmatch(piece)
        try:
            if m and m.group(1):
                dates.append(date(int(m.group(3)), int(m.group(2)), int(m.group(1))))
            elif m:
                dates.append(date(int(m.group(4)), int(m.group(5)), int(m.group(6))))
            else:
                bad.append(piece)
        except ValueError:
            bad.append(piece)
    return dates, bad


ERROR_MESSAGES = {
    "too_long": lambda: _("This is too long."),
    "required": lambda: _("Give the activity a name."),
    "unknown": lambda: _("Choose one of the options."),
    "unknown_postcode": lambda: _("We do not know this postcode."),
    "both_coordinates": lambda: _("Type both latitude and longitude, or neither."),
    "outside_belgium": lambda: _("These coordinates are not in Belgium."),
    "end_before_start": lambda: _("The end time must be after the start time."),
    "amount_needed": lambda: _("Type the price, or choose free or pay what you can."),
    "amount_range": lambda: _("The price must be between 0 and 500 euro."),
    "language_needed": lambda: _("Tick at least one language."),
    "capacity_range": lambda: _("Choose a number from 0 to 50."),
    "weekday_needed": lambda: _("Tick at least one day."),
    "monthly_day_needed": lambda: _("Choose the week and the day of the month."),
    "until_before_first": lambda: _("The last date must be after the first date."),
    "repeat_unknown": lambda: _("Choose one of the options."),
    "organisation_needed": lambda: _("Your account does not belong to an organisation yet."),
}
# Which form field shows the error of a rule.
ERROR_FIELDS = {"recurrence": "weekdays", "organisation": "title"}


def _input(form: ActivityForm, exceptions: list[date]) -> editing.ActivityInput:
    rec = Recurrence(
        repeat=form.repeat.data or "weekly",
        weekdays=tuple(form.weekdays.data or ()),
        week_of_month=form.week_of_month.data or 1,
        monthly_day=form.monthly_day.data or "SA",
        until=form.until.data,
    )
    return editing.ActivityInput(
        title=form.title.data or "",
        category=form.category.data or "",
        postcode=form.postcode.data or "",
        first_date=form.first_date.data,
        start_time=form.start_time.data,
        end_time=form.end_time.data,
        recurrence=rec,
        summary=form.summary.data or "",
        description=form.description.data or "",
        welcome_instructions=form.welcome_instructions.data or "",
        street=form.street.data or "",
        lat=float(form.lat.data) if form.lat.data is not None else None,
        lon=float(form.lon.data) if form.lon.data is not None else None,
        cost_type=form.cost_type.data or "free",
        cost_amount=Decimal(form.cost_amount.data) if form.cost_amount.data is not None else None,
        cost_note=form.cost_note.data or "",
        tags=tuple(form.tags.data or ()),
        languages=tuple(form.languages.data or ()),
        professional_contact=form.professional_contact.data or "",
        referral_capacity=form.referral_capacity.data or 0,
        exceptions=tuple(exceptions),
        skip_school_holidays=bool(form.skip_school_holidays.data),
    )


def _fill(form: ActivityForm, activity: Activity) -> None:
    """Put a stored activity into the form, the schedule as the organiser said it."""
    rec = from_rrule(activity.rrule)
    start = activity.dtstart_local
    end = to_local_end(activity)
    form.title.data, form.summary.data = activity.title, activity.summary
    form.description.data = activity.description
    form.welcome_instructions.data = activity.welcome_instructions
    form.category.data, form.street.data = activity.category, activity.street
    form.postcode.data = activity.postcode
    form.lat.data, form.lon.data = Decimal(str(activity.lat)), Decimal(str(activity.lon))
    form.repeat.data, form.weekdays.data = rec.repeat, list(rec.weekdays)
    form.week_of_month.data, form.monthly_day.data = rec.week_of_month, rec.monthly_day
    form.first_date.data, form.until.data = start.date(), rec.until
    form.start_time.data, form.end_time.data = start.time(), end
    form.exceptions.data = "\n".join(
        d.strftime("%d-%m-%Y") for d in sorted(parse_exdates(activity.exdates))
    )
    form.skip_school_holidays.data = activity.skip_school_holidays
    form.cost_type.data, form.cost_amount.data = activity.cost_type, activity.cost_amount
    form.cost_note.data = activity.cost_note
    form.tags.data = _tag_slugs(activity)
    form.languages.data = activity.language_codes
    form.professional_contact.data = activity.professional_contact
    form.referral_capacity.data = activity.referral_capacity


def to_local_end(activity: Activity) -> time:
    return (activity.dtstart_local + timedelta(minutes=activity.duration_minutes)).time()


def _tag_slugs(activity: Activity) -> list[str]:
    return [
        t
        for t in taxonomy.mask_to_tags(activity.tags_mask)
        if t not in ("free", "pay_what_you_can", "low_cost")
    ]


def _own(activity_id: int) -> Activity:
    """The activity, if this user may edit it; 404 otherwise (its existence is not told)."""
    activity = db().scalar(
        select(Activity)
        .where(Activity.id == activity_id)
        .options(selectinload(Activity.organisation), selectinload(Activity.translations))
    )
    if activity is None or not editing.may_edit(g.user, activity):
        abort(404)
    return activity


@bp.get("/")
@roles_required(*EDITORS)
def index() -> str:
    search, number, per_page = list_args()
    page = editing.activity_page(db(), g.user, search, number, per_page)
    reports = freshness.open_reports_of(db(), [a.id for a in page.items], now_utc())
    return render_template("manage/activities.html", page=page, q=search, reports=reports)


def _editor(activity: Activity | None) -> str | BaseResponse | tuple[str, int]:
    user: User = g.user
    form = ActivityForm()
    form.fill_choices()
    if request.method == "GET":
        if activity is not None:
            _fill(form, activity)
        else:
            form.repeat.data, form.cost_type.data = "weekly", "free"
            form.languages.data, form.referral_capacity.data = ["nl"], 2
    preview: list[str] = []
    card = None
    if form.validate_on_submit():
        exceptions, bad = parse_exceptions(form.exceptions.data)
        if bad:
            form.exceptions.errors = [
                _(
                    "We do not understand these dates: %(dates)s. Write them as 25-12-2026.",
                    dates=", ".join(bad[:5]),
                )
            ]
        else:
            data = _input(form, exceptions)
            action = request.form.get("action", "preview")
            try:
                if action == "preview":
                    editing.check(data)
                    preview = schedule_words(
                        data.recurrence,
                        data.first_date,
                        data.start_time,
                        data.end_time,
                        data.exceptions,
                        data.skip_school_holidays,
                    )
                    # Not attached to the organisation: it must never reach the database.
                    draft = Activity()
                    editing.apply(draft, data, None)
                    draft.id = activity.id if activity else 0
                    card = Hit(listing(draft), 0.0, [])
                else:
                    saved = editing.save(
                        db(), user, activity, data, action == "publish", edit_settings(), now_utc()
                    )
                    db().commit()
                    flash(_status_message(saved))
                    return redirect(url_for("editor.edit", activity_id=saved.id))
            except editing.EditError as exc:
                for name, code in exc.errors.items():
                    field = getattr(form, ERROR_FIELDS.get(name, name), form.title)
                    field.errors = [*list(field.errors), ERROR_MESSAGES[code]()]
    saved_words = []
    if activity is not None and request.method == "GET":
        saved_words = schedule_words(
            from_rrule(activity.rrule),
            activity.dtstart_local.date(),
            activity.dtstart_local.time(),
            to_local_end(activity),
            sorted(parse_exdates(activity.exdates)),
            activity.skip_school_holidays,
        )
    status = 400 if form.is_submitted() and (form.errors or any(f.errors for f in form)) else 200
    if activity is not None:
        pin_point = (activity.lat, activity.lon)
    else:
        entry = (
            gazetteer().by_postcode.get(form.postcode.data or "") or gazetteer().by_postcode["1000"]
        )
        pin_point = (entry.lat, entry.lon)
    return render_template(
        "manage/activity_form.html",
        pin_point=pin_point,
        form=form,
        activity=activity,
        preview=preview or saved_words,
        card_hit=card,
    ), status


def _status_message(activity: Activity) -> str:
    if activity.status == "published":
        return _("Saved. The activity is online.")
    if activity.status == "pending":
        return _("Saved. Your organisation is new: we check the activity before it goes online.")
    return _("Saved as draft. Families do not see it yet.")


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new() -> str | BaseResponse | tuple[str, int]:
    return _editor(None)


@bp.route("/<int:activity_id>", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit(activity_id: int) -> str | BaseResponse | tuple[str, int]:
    return _editor(_own(activity_id))


@bp.post("/<int:activity_id>/duplicate")
@roles_required(*EDITORS)
def duplicate(activity_id: int) -> BaseResponse:
    copy = editing.duplicate(db(), g.user, _own(activity_id), now_utc())
    db().commit()
    flash(_("This is a copy. Change what differs, then publish it."))
    return redirect(url_for("editor.edit", activity_id=copy.id))


@bp.post("/<int:activity_id>/status")
@roles_required(*EDITORS)
def status(activity_id: int) -> BaseResponse:
    action = request.form.get("action", "")
    if action not in editing.STATUS_ACTIONS:
        abort(400)
    activity = _own(activity_id)
    editing.set_status(db(), g.user, activity, action, edit_settings(), now_utc())
    db().commit()
    flash(
        _status_message(activity)
        if action == "publish"
        else (
            _("Paused. Families do not see it until you publish it again.")
            if action == "pause"
            else _("Archived.")
        )
    )
    return redirect(url_for("editor.index"))


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> str | BaseResponse | tuple[str, int]:
    """The one-click "still correct" from the mail: a page with one button (mail scanners that
    open links must not confirm anything), no account needed. The link works once, and never
    puts back online a listing its organiser paused on purpose."""
    cfg = current_app.config
    try:
        payload = confirm_serializer().loads(token, max_age=(cfg["PAUSE_DAYS"] + 60) * 24 * 3600)
    except BadSignature:
        payload = None
    activity, fresh = None, False
    if isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int):
        activity = db().get(Activity, payload[0])
        fresh = activity is not None and payload[1] == freshness.confirm_stamp(activity)
    elif isinstance(payload, int):  # a link mailed before links were single use
        activity = db().get(Activity, payload)
        fresh = activity is not None and activity.confirm_requested_at is not None
    if activity is None or activity.status in ("archived", "draft") or not fresh:
        return render_template("manage/confirm_spent.html"), 404
    if activity.status == "paused" and not freshness.paused_for_age(db(), activity):
        return render_template("manage/confirm.html", activity=activity, paused_on_purpose=True)
    if request.method == "POST":  # CSRF checked by CSRFProtect like every form
        freshness.confirm(db(), activity, now_utc(), cfg["OCCURRENCE_WEEKS"], g.get("user"))
        db().commit()
        return render_template("manage/confirmed.html", activity=activity)
    return render_template("manage/confirm.html", activity=activity)
