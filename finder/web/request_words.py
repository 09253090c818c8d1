"""Requests in plain words: states, timeline steps, outcomes and match reasons, for families
and for staff, in the reader's language."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_time
from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from ..models import AccompanimentRequest, RequestEvent
from ..schedule import to_local
from .common import locale_code
from .i18n import gettext as _
from .present import day_words

MODE_LABELS = {
    "buddy": _l("A buddy goes along"),
    "professional": _l("The professional goes along"),
    "welcomer": _l("A welcomer receives them"),
}
STATE_LABELS = {
    "new": _l("New"),
    "offered": _l("Offered to a buddy"),
    "matched": _l("Buddy found"),
    "confirmed": _l("Confirmed"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}
OUTCOME_LABELS = {
    "went": _l("Went"),
    "did_not_go": _l("Did not go"),
    "will_go_again": _l("Will go again"),
    "on_own": _l("Goes on their own now"),
    "helps_out": _l("Now helps out there"),
}
FOLLOWUP_LABELS = {
    "still_goes": _l("Still goes"),
    "stopped": _l("Stopped going"),
    "helps_out": _l("Now helps out there"),
}
REASON_LABELS = {
    "same_buddy": _l("Went with this family before"),
    "language": _l("Speaks the family's language"),
    "page_language": _l("Speaks the language the family reads"),
    "near": _l("Lives nearby"),
    "far": _l("Lives further than they travel"),
    "available": _l("Usually free at that time"),
    "full": _l("Has as many families as they can carry"),
}
CHANNEL_LABELS = {
    "phone": _l("Phone call"),
    "sms": _l("Text message (SMS)"),
    "whatsapp": _l("WhatsApp"),
    "email": _l("E-mail"),
}


def session_day(starts_at: datetime) -> str:
    """'Wednesday 9 December, 14:00' for a naive-UTC start (time isolated for RTL pages)."""
    local = to_local(starts_at)
    return _(
        "%(day)s, %(start)s",
        day=day_words(starts_at),
        start="\u2066" + format_time(local, "HH:mm", locale=locale_code()) + "\u2069",
    )


def family_status_title(r: AccompanimentRequest) -> str:
    if r.status == "cancelled":
        return _("Your question is cancelled")
    if r.status == "done":
        return _("Thank you. Your question is closed")
    if r.status == "confirmed":
        return _("Everything is ready")
    if r.status == "matched":
        return _("A buddy goes with you")
    if r.mode == "buddy":
        return _("We are looking for a buddy")
    return _("We are waiting for the organiser")


def family_status_lines(
    r: AccompanimentRequest, answer_by: datetime, coordinated: bool = True
) -> list[str]:
    """What happens next, as the family reads it; `coordinated`: a coordinator can answer
    (otherwise no promise of a call by a date that nobody will keep)."""
    lines: list[str] = []
    if r.status == "new" and r.mode == "buddy" and r.origin == "family" and not coordinated:
        lines.append(
            _(
                "Your question has arrived, but nobody can answer it yet. The team that runs "
                "Meegaan knows and is looking for someone, so it can take longer."
            )
        )
    elif r.status in ("new", "offered") and r.mode == "buddy":
        how = (
            _("by e-mail")
            if r.contact_channel == "email"
            else _("by phone or message")
            if r.contact_channel
            else ""
        )
        if how:
            lines.append(
                _(
                    "The buddy coordinator contacts you %(how)s before %(date)s.",
                    how=how,
                    date=format_date(answer_by, "full"),
                )
            )
        else:
            lines.append(_("Your social worker tells you when a buddy is found."))
    elif r.status == "new":
        lines.append(_("The organiser confirms that they expect you. Then you see it here."))
    elif r.status == "matched":
        lines.append(_("Your buddy contacts you before the day to agree where you meet."))
        lines.append(_("The organiser has not confirmed yet."))
    elif r.status == "confirmed":
        if r.welcomer_name:
            lines.append(_("Ask for %(name)s when you arrive.", name=r.welcomer_name))
        if r.mode == "buddy":
            lines.append(_("Your buddy goes with you."))
        elif r.mode == "professional":
            lines.append(_("Your social worker goes with you."))
    elif r.status == "done":
        lines.append(_("We hope to see you there again."))
    return lines


def event_words(e: RequestEvent, family: bool = False) -> str:
    """One timeline step. Families read "you"; staff read who did it."""
    who = e.actor.display_name if e.actor is not None and not family else ""
    detail = e.detail
    when = ""
    if detail and detail[0].isdigit():
        try:
            when = session_day(datetime.fromisoformat(detail))
        except ValueError:
            when = ""
    words: dict[str, Any] = {
        "created": (
            _("Asked to go together")
            if e.actor_kind == "family" or family
            else _("%(name)s referred the family", name=who)
        ),
        "offered": _("Offered to a buddy"),
        "offer_declined": _("A buddy could not go"),
        "matched": _("A buddy goes along") if family else _("%(name)s goes along", name=detail),
        "confirmed": _("The organiser expects the family on %(day)s", day=when),
        "date_proposed": _("The organiser proposes %(day)s", day=when),
        "date_changed": (
            _("The day changed to %(day)s", day=when)
            if when
            else _("The day changed to any next time")
        ),
        "cancelled": _("Cancelled"),
        "outcome": _("How it went: %(outcome)s", outcome=OUTCOME_LABELS.get(detail, detail)),
        "reminder_sent": _("Reminder sent"),
        "followup_asked": _("Asked whether the family still goes"),
        "followup_answered": _("Follow-up: %(answer)s", answer=FOLLOWUP_LABELS.get(detail, detail)),
        "purged": _("Personal details erased"),
        "expired": _("Closed: nobody said how it went"),
    }
    text = str(words.get(e.action, e.action))
    if family or not who or e.action in ("created", "matched"):
        return text
    return _("%(what)s (%(name)s)", what=text, name=who)
