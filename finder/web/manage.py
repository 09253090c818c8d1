"""Staff pages under /manage: what needs attention, and people (invitations)."""

from __future__ import annotations

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
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as BaseResponse

from .. import accompaniment as acc
from .. import accounts, notify, organisations
from ..activities import refresh_all
from ..freshness import stale_since
from ..models import (
    ROLES,
    Activity,
    ActivityReport,
    AuditEvent,
    HolidayPeriod,
    Organisation,
    Outbox,
    User,
)
from ..paging import like_pattern, paginate
from .auth import account_message, expires_words, role_words, token_link
from .common import (
    db,
    freshness_settings,
    list_args,
    now_utc,
    public_activity_url,
    public_url,
    smtp_settings,
)
from .decorators import login_required, roles_required
from .forms import HolidayForm, InviteForm, OrganisationForm
from .i18n import gettext as _
from .i18n import ngettext
from .templating import endonym

bp = Blueprint("manage", __name__, url_prefix="/manage")
# How many of its organisation's activities the dashboard names (a link leads to all).
DASHBOARD_ACTIVITIES = 10


@bp.get("/")
@login_required
def dashboard() -> str:
    user: User = g.user
    facts: dict[str, int] = {}
    if user.role == "admin":
        facts["users"] = db().scalar(select(func.count(User.id))) or 0
        facts["to_moderate"] = (
            db().scalar(select(func.count(Activity.id)).where(Activity.status == "pending")) or 0
        )
        stale_before = stale_since(now_utc(), freshness_settings())
        facts["stale"] = (
            db().scalar(
                select(func.count(Activity.id)).where(
                    Activity.status == "published",
                    func.coalesce(Activity.last_confirmed_at, Activity.created_at) < stale_before,
                )
            )
            or 0
        )
        facts["reports"] = (
            db().scalar(
                select(func.count(ActivityReport.id)).where(ActivityReport.resolved_at.is_(None))
            )
            or 0
        )
        facts["organisations_to_verify"] = (
            db().scalar(select(func.count(Organisation.id)).where(Organisation.verified.is_(False)))
            or 0
        )
        facts["mails_failed"] = (
            db().scalar(select(func.count(Outbox.id)).where(Outbox.status == "failed")) or 0
        )
        facts["mails_retrying"] = notify.retrying(db())
    activities = None
    if user.organisation_id is not None:
        # The first few by title; the full list pages (/manage/activities).
        activities = paginate(
            db(),
            select(Activity)
            .where(Activity.organisation_id == user.organisation_id)
            .order_by(Activity.title, Activity.id),
            1,
            DASHBOARD_ACTIVITIES,
        )
    waiting = acc.waiting_for(db(), user, now_utc())
    failed = notify.failed_mails(db()) if user.role == "admin" else []
    return render_template(
        "manage/dashboard.html",
        facts=facts,
        activities=activities,
        waiting=waiting,
        failed_mails=failed,
    )


@bp.post("/outbox/retry")
@roles_required("admin")
def retry_failed_mails() -> BaseResponse:
    """What `flask outbox-send --retry-failed` does: the failed mails go back in the queue,
    due now with a fresh set of attempts; one batch is sent straight away, the outbox worker
    sends the rest (a request must end well within gunicorn's 30 seconds)."""
    again = notify.retry_failed(db(), now_utc())
    accounts.audit(db(), g.user, "mails_retried", "outbox", None, now_utc(), str(again))
    db().commit()
    sent = notify.send_due(db(), smtp_settings(), now_utc()) if again else 0
    flash(
        ngettext(
            "%(num)d e-mail went back in the queue.",
            "%(num)d e-mails went back in the queue.",
            again,
        )
    )
    flash(ngettext("%(num)d e-mail sent.", "%(num)d e-mails sent.", sent))
    return redirect(url_for("manage.dashboard"))


def _invite_form(user: User) -> InviteForm:
    form = InviteForm()
    roles = [r for r in ROLES if accounts.may_invite(user, r, user.organisation_id)]
    form.role.choices = [(r, _(accounts.ROLE_LABELS[r])) for r in roles]
    if user.role == "admin":
        orgs = db().scalars(select(Organisation).order_by(Organisation.name))
        form.organisation_id.choices = [(0, _("No organisation"))] + [(o.id, o.name) for o in orgs]
    else:
        org = user.organisation
        form.organisation_id.choices = [(org.id, org.name)] if org else []
    form.locale.choices = [(code, endonym(code)) for code in current_app.config["LANGUAGES"]]
    return form


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin", "organiser")
def users() -> str | BaseResponse | tuple[str, int]:
    user: User = g.user
    form = _invite_form(user)
    error = None
    if form.validate_on_submit():
        invitation = accounts.Invitation(
            email=form.email.data,
            display_name=form.display_name.data,
            role=form.role.data,
            organisation_id=form.organisation_id.data or None,
            locale=form.locale.data,
        )
        try:
            invited = accounts.invite(
                db(), user, invitation, now_utc(), token_link, expires_words, role_words
            )
        except accounts.AccountError as exc:
            error = account_message(exc.code)
        else:
            db().commit()
            flash(_("We sent an invitation to %(email)s.", email=invited.email))
            return redirect(url_for("manage.users"))
    search, number, per_page = list_args()
    people = accounts.people_page(db(), user, search, number, per_page)
    status = 400 if form.is_submitted() else 200
    return render_template(
        "manage/users.html", form=form, error=error, people=people, q=search
    ), status


ORG_ERRORS = {
    "required": lambda: _("Type the name."),
    "unknown": lambda: _("Choose one of the options."),
    "unknown_postcode": lambda: _("We do not know this postcode."),
    "website_scheme": lambda: _("A website starts with https://"),
}


@bp.route("/organisation", methods=["GET", "POST"])
@roles_required("organiser")
def organisation() -> str | BaseResponse | tuple[str, int]:
    """Register your organisation (first time) or keep its details right."""
    user: User = g.user
    org = user.organisation
    form = OrganisationForm(obj=org) if request.method == "GET" and org else OrganisationForm()
    form.kind.choices = [(k, _(v)) for k, v in organisations.KINDS.items()]
    if form.validate_on_submit():
        data = organisations.OrganisationInput(
            name=form.name.data,
            kind=form.kind.data,
            street=form.street.data or "",
            postcode=form.postcode.data or "",
            contact_email=form.contact_email.data or "",
            contact_phone=form.contact_phone.data or "",
            website=form.website.data or "",
        )
        try:
            if org is None:
                organisations.register(db(), user, data, now_utc())
            else:
                organisations.update(db(), user, org, data, now_utc())
        except organisations.OrganisationError as exc:
            for name, code in exc.errors.items():
                getattr(form, name).errors = [ORG_ERRORS[code]()]
        else:
            db().commit()
            flash(_("Saved."))
            return redirect(url_for("manage.dashboard"))
    status = 400 if form.is_submitted() else 200
    return render_template("manage/organisation.html", form=form, org=org), status


@bp.get("/organisations")
@roles_required("admin")
def organisations_list() -> str:
    search, number, per_page = list_args()
    query = select(Organisation).order_by(Organisation.verified, Organisation.name, Organisation.id)
    if search:
        query = query.where(func.lower(Organisation.name).like(like_pattern(search), escape="\\"))
    orgs = paginate(db(), query, number, per_page)
    return render_template("manage/organisations.html", orgs=orgs, q=search)


@bp.post("/organisations/<int:org_id>/verify")
@roles_required("admin")
def verify_organisation(org_id: int) -> BaseResponse:
    org = db().get(Organisation, org_id) or abort(404)
    organisations.verify(db(), g.user, org, now_utc())
    db().commit()
    flash(_("%(name)s is verified.", name=org.name))
    return redirect(url_for("manage.organisations_list"))


@bp.get("/moderation")
@roles_required("admin")
def moderation() -> str:
    _search, number, per_page = list_args()
    waiting = organisations.pending_page(db(), number, per_page)
    return render_template("manage/moderation.html", waiting=waiting)


@bp.post("/moderation/<int:activity_id>")
@roles_required("admin")
def moderate(activity_id: int) -> BaseResponse:
    activity = db().get(Activity, activity_id) or abort(404)
    if activity.status != "pending":
        abort(404)
    approve = request.form.get("decision") == "approve"
    # Without ?lang=: each organiser reads it in their own language, not the admin's.
    link = (
        public_activity_url(activity, lang=None)
        if approve
        else public_url("editor.edit", activity_id=activity.id, lang=None)
    )
    organisations.moderate(
        db(), g.user, activity, approve, now_utc(), current_app.config["OCCURRENCE_WEEKS"], link
    )
    db().commit()
    flash(
        _("The activity is online.") if approve else _("The activity went back to its organiser.")
    )
    return redirect(url_for("manage.moderation"))


@bp.post("/users/<int:user_id>")
@roles_required("admin")
def change_user(user_id: int) -> BaseResponse:
    person = db().get(User, user_id) or abort(404)
    role = request.form.get("role", person.role)
    active = request.form.get("active", "1") == "1"
    try:
        accounts.change_user(db(), g.user, person, role, active, now_utc())
    except accounts.AccountError as exc:
        flash(account_message(exc.code))
        return redirect(url_for("manage.users"))
    db().commit()
    flash(_("Saved."))
    return redirect(url_for("manage.users"))


@bp.get("/audit")
@roles_required("admin")
def audit_log() -> str:
    _search, number, per_page = list_args()
    events = paginate(
        db(),
        select(AuditEvent)
        .options(selectinload(AuditEvent.actor))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
        number,
        per_page,
    )
    return render_template("manage/audit.html", events=events)


@bp.route("/holidays", methods=["GET", "POST"])
@roles_required("admin")
def holidays() -> str | BaseResponse | tuple[str, int]:
    """School holiday periods, copied from the published Flemish school calendar."""
    form = HolidayForm()
    if form.validate_on_submit():
        if form.ends_on.data < form.starts_on.data:
            form.ends_on.errors = [_("The last date must be after the first date.")]
        else:
            period = HolidayPeriod(
                name=form.name.data, starts_on=form.starts_on.data, ends_on=form.ends_on.data
            )
            db().add(period)
            db().flush()
            accounts.audit(
                db(),
                g.user,
                "holiday_added",
                "holiday",
                period.id,
                now_utc(),
                f"{period.starts_on} {period.ends_on}",
            )
            refresh_all(db(), now_utc(), current_app.config["OCCURRENCE_WEEKS"])
            db().commit()
            flash(_("Saved."))
            return redirect(url_for("manage.holidays"))
    periods = list(db().scalars(select(HolidayPeriod).order_by(HolidayPeriod.starts_on)))
    status = 400 if form.is_submitted() else 200
    return render_template("manage/holidays.html", form=form, periods=periods), status


@bp.post("/holidays/<int:period_id>/delete")
@roles_required("admin")
def delete_holiday(period_id: int) -> BaseResponse:
    period = db().get(HolidayPeriod, period_id) or abort(404)
    db().delete(period)
    accounts.audit(db(), g.user, "holiday_deleted", "holiday", period_id, now_utc())
    db().flush()
    refresh_all(db(), now_utc(), current_app.config["OCCURRENCE_WEEKS"])
    db().commit()
    flash(_("Saved."))
    return redirect(url_for("manage.holidays"))
