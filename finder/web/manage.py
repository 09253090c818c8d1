"""Staff pages under /manage: what needs attention, and people (invitations)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from .. import accounts
from ..models import ROLES, Activity, Organisation, Outbox, User
from .auth import account_message, expires_words, role_words, token_link
from .common import db, now_utc
from .decorators import login_required, roles_required
from .forms import InviteForm
from .templating import endonym

bp = Blueprint("manage", __name__, url_prefix="/manage")


@bp.get("/")
@login_required
def dashboard() -> str:
    user: User = g.user
    facts: dict[str, int] = {}
    if user.role == "admin":
        facts["users"] = db().scalar(select(func.count(User.id))) or 0
        facts["organisations_to_verify"] = (
            db().scalar(select(func.count(Organisation.id)).where(Organisation.verified.is_(False)))
            or 0
        )
        facts["mails_failed"] = (
            db().scalar(select(func.count(Outbox.id)).where(Outbox.status == "failed")) or 0
        )
    activities = []
    if user.organisation_id is not None:
        activities = list(
            db().scalars(
                select(Activity)
                .where(Activity.organisation_id == user.organisation_id)
                .order_by(Activity.title)
            )
        )
    return render_template("manage/dashboard.html", facts=facts, activities=activities)


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
    query = select(User).order_by(User.display_name)
    if user.role != "admin":
        query = query.where(User.organisation_id == user.organisation_id)
    people = list(db().scalars(query))
    status = 400 if form.is_submitted() else 200
    return render_template("manage/users.html", form=form, error=error, people=people), status
