"""Staff accounts: passwords, sign-in, invitations and password resets by single-use links."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .models import ROLES, AuditEvent, Organisation, User, UserToken
from .notify import queue_mail
from .paging import Page, like_pattern, paginate
from .taxonomy import N_
from .text import one_line

# Argon2id with the library's current defaults (memory-hard, RFC 9106 low-memory profile).
_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
INVITE_TTL = timedelta(days=7)
RESET_TTL = timedelta(hours=2)
# A hash to verify against when the account does not exist, so that timing does not tell.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))

ROLE_LABELS = {
    "professional": N_("professional (social worker, family coach)"),
    "organiser": N_("organiser of activities"),
    "buddy": N_("buddy (volunteer)"),
    "coordinator": N_("buddy coordinator"),
    "admin": N_("administrator"),
}


class AccountError(ValueError):
    """A refusal whose `code` the web layer turns into a message in the user's language."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("password_too_short")
    if len(password) > 200:
        raise AccountError("password_too_long")
    if password.strip().lower() in {normalise_email(email), normalise_email(email).split("@")[0]}:
        raise AccountError("password_is_email")


def set_password(user: User, password: str, hashed: str | None = None) -> None:
    """A new password ends every other session of the account. `hashed`: the password's hash
    made beforehand, outside the transaction (Argon2 is slow, and SQLite's write lock waits)."""
    check_new_password(password, user.email)
    user.password_hash = hashed or hash_password(password)
    user.session_version += 1


def check_password(session: Session, email: str, password: str) -> tuple[int, str] | None:
    """The active account these match, as its id and password hash, or None. It only reads:
    Argon2 takes a fifth of a second on purpose, and no write lock should wait on it."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active or not user.password_hash:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user.id, user.password_hash


def record_login(
    session: Session, checked: tuple[int, str], password: str, now_utc: datetime
) -> User | None:
    """Sign in the account `check_password` found, unless it changed in the meantime (closed,
    or given another password): then None, as for a wrong password."""
    user = session.get(User, checked[0])
    if user is None or not user.active or user.password_hash != checked[1]:
        return None
    if _hasher.check_needs_rehash(user.password_hash):  # once per account after a new setting
        user.password_hash = hash_password(password)
    user.last_login_at = now_utc
    return user


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(
    session: Session, user: User, purpose: str, now_utc: datetime, ttl: timedelta | None = None
) -> str:
    """A new single-use token; earlier unused ones of the same purpose stop working."""
    for old in session.scalars(
        select(UserToken).where(
            UserToken.user_id == user.id, UserToken.purpose == purpose, UserToken.used_at.is_(None)
        )
    ):
        old.used_at = now_utc
    raw = secrets.token_urlsafe(32)
    ttl = ttl or (INVITE_TTL if purpose == "invite" else RESET_TTL)
    session.add(
        UserToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=_token_hash(raw),
            created_at=now_utc,
            expires_at=now_utc + ttl,
        )
    )
    return raw


def find_token(session: Session, raw: str, purpose: str, now_utc: datetime) -> UserToken | None:
    token = session.scalar(
        select(UserToken).where(
            UserToken.token_hash == _token_hash(raw), UserToken.purpose == purpose
        )
    )
    if token is None or token.used_at is not None or token.expires_at < now_utc:
        return None
    if not token.user.active:
        return None
    return token


def use_token(
    session: Session,
    raw: str,
    purpose: str,
    password: str,
    now_utc: datetime,
    hashed: str | None = None,
) -> User:
    """Set the password through an invitation or reset link; the link then stops working."""
    token = find_token(session, raw, purpose, now_utc)
    if token is None:
        raise AccountError("link_invalid")
    set_password(token.user, password, hashed)
    token.used_at = now_utc
    audit(session, token.user, f"{purpose}_password_set", "user", token.user.id, now_utc)
    return token.user


@dataclass(frozen=True)
class Invitation:
    email: str
    display_name: str
    role: str
    organisation_id: int | None
    locale: str


def may_invite(inviter: User, role: str, organisation_id: int | None) -> bool:
    """Admins invite anyone; an organiser invites organisers of their own organisation."""
    if inviter.role == "admin":
        return role in ROLES
    return (
        inviter.role == "organiser"
        and role == "organiser"
        and inviter.organisation_id is not None
        and organisation_id == inviter.organisation_id
    )


def invite(
    session: Session,
    inviter: User,
    invitation: Invitation,
    now_utc: datetime,
    link_for: Callable[[str, str, str], str],
    expires_words: Callable[[datetime, str], str],
    role_words: Callable[[str, str], str],
) -> User:
    """Create the account (without a password) and queue the invitation mail in its language."""
    if not may_invite(inviter, invitation.role, invitation.organisation_id):
        raise AccountError("not_allowed")
    email = normalise_email(invitation.email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("email_taken")
    # An organiser invited without an organisation registers theirs at first sign-in (how a new
    # instance gets its first organisations); an organiser invites only into their own.
    if (
        invitation.organisation_id is not None
        and session.get(Organisation, invitation.organisation_id) is None
    ):
        raise AccountError("organisation_needed")
    user = User(
        email=email,
        display_name=one_line(invitation.display_name).strip(),
        role=invitation.role,
        organisation_id=invitation.organisation_id,
        preferred_locale=invitation.locale,
        active=True,
        session_version=1,
        created_at=now_utc,
    )
    session.add(user)
    session.flush()
    raw = issue_token(session, user, "invite", now_utc)
    queue_mail(
        session,
        email,
        invitation.locale,
        "invite",
        now_utc,
        name=user.display_name,
        inviter=inviter.display_name,
        role=role_words(invitation.role, invitation.locale),
        link=link_for("invite", raw, invitation.locale),
        expires=expires_words(now_utc + INVITE_TTL, invitation.locale),
    )
    audit(session, inviter, "invite", "user", user.id, now_utc, f"{invitation.role} {email}")
    return user


def request_reset(
    session: Session,
    email: str,
    now_utc: datetime,
    link_for: Callable[[str, str, str], str],
    expires_words: Callable[[datetime, str], str],
) -> None:
    """Queue a reset mail when the account exists; say nothing either way (no account probing)."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        return
    # Someone who never accepted the invitation gets a fresh invitation link instead.
    purpose = "reset" if user.password_hash else "invite"
    raw = issue_token(session, user, purpose, now_utc)
    queue_mail(
        session,
        user.email,
        user.preferred_locale,
        "reset",
        now_utc,
        name=user.display_name,
        link=link_for(purpose, raw, user.preferred_locale),
        expires=expires_words(
            now_utc + (RESET_TTL if purpose == "reset" else INVITE_TTL), user.preferred_locale
        ),
    )


# What `flask create-admin` says when it refuses, in English (an operator's shell).
CLI_MESSAGES = {
    "email_invalid": "{email} is not an e-mail address",
    "not_admin": "{email} already has an account with another role: change it at /manage/users",
    "closed": "{email} has a closed account: reopen it at /manage/users",
}


@dataclass(frozen=True)
class FirstAdmin:
    email: str
    created: bool
    purpose: str  # "invite" (no password yet) or "reset"
    raw_token: str


def create_admin(
    session: Session, email: str, name: str, locale: str, now_utc: datetime, ttl: timedelta
) -> FirstAdmin:
    """The first administrator of a new instance, from the server's shell. Safe to run twice:
    an existing admin gets a new link (the earlier one stops working) and nothing else changes;
    an account of another role or a closed one is never turned into an admin from here."""
    address = normalise_email(email)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address):
        raise AccountError("email_invalid")
    user = session.scalar(select(User).where(User.email == address))
    created = user is None
    if user is None:
        user = User(
            email=address,
            display_name=(name.strip() or local)[:100],
            role="admin",
            organisation_id=None,
            preferred_locale=locale,
            active=True,
            session_version=1,
            created_at=now_utc,
        )
        session.add(user)
        session.flush()
    elif user.role != "admin":
        raise AccountError("not_admin")
    elif not user.active:
        raise AccountError("closed")
    purpose = "reset" if user.password_hash else "invite"
    raw = issue_token(session, user, purpose, now_utc, ttl)
    audit(session, None, "create_admin" if created else "admin_link", "user", user.id, now_utc)
    return FirstAdmin(address, created, purpose, raw)


def people_page(
    session: Session, viewer: User, search: str, number: int, per_page: int
) -> Page[User]:
    """A page of the people this user sees (an admin everyone, an organiser the colleagues of
    their own organisation, someone without one only themselves: "no organisation" is not an
    organisation everyone shares), those whose name or e-mail address contains `search`."""
    if viewer.role != "admin" and viewer.organisation_id is None:
        return Page(items=[viewer], number=1, per_page=per_page, total=1)
    query = select(User).order_by(User.display_name, User.id)
    if viewer.role != "admin":
        query = query.where(User.organisation_id == viewer.organisation_id)
    if search:
        pattern = like_pattern(search)
        query = query.where(
            or_(
                func.lower(User.display_name).like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
            )
        )
    return paginate(session, query, number, per_page)


def change_user(
    session: Session, admin: User, user: User, role: str, active: bool, now_utc: datetime
) -> None:
    """An admin changes someone's role or closes the account (which ends their sessions)."""
    if admin.role != "admin" or role not in ROLES:
        raise AccountError("not_allowed")
    if user.id == admin.id and (not active or role != "admin"):
        raise AccountError("not_yourself")
    changes = []
    if user.role != role:
        changes.append(f"role {user.role} -> {role}")
        user.role = role
    if user.active != active:
        changes.append("reopened" if active else "closed")
        user.active = active
        user.session_version += 1
    if changes:
        audit(session, admin, "user_changed", "user", user.id, now_utc, "; ".join(changes))


def audit(
    session: Session,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: int | None,
    now_utc: datetime,
    detail: str = "",
) -> None:
    session.add(
        AuditEvent(
            at=now_utc,
            actor_id=actor.id if actor else None,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        )
    )
