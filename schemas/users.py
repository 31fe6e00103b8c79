"""User accounts, sign-in sessions and the access log of the web application (Argon2 hashes, lock-out).

Accounts have a role (:data:`ROLES`) and, for the ``site`` role, the one site whose patients they see. Passwords
are stored only as Argon2id hashes (argon2-cffi). A sign-in session is a random token kept server-side as its
SHA-256 digest, so that sign-out, expiry, disabling an account and changing a password end it at once. Every
account change is written to the audit trail (who, when, what, why); sign-ins, failures, lock-outs, sign-outs,
patient views and downloads go to the access log (``web_event``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from sqlmodel import Session, SQLModel

from tkitrack.schemas.audit import append_entries
from tkitrack.schemas.errors import InputError, NotFoundError
from tkitrack.schemas.fields import field as _f

__all__ = [
    "LOCKOUT",
    "MAX_FAILED_SIGN_INS",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "SESSION_ABSOLUTE",
    "SESSION_IDLE",
    "Account",
    "SignIn",
    "User",
    "WebEvent",
    "WebSession",
    "WebSetting",
    "add_user",
    "authenticate",
    "check_password_rules",
    "end_session",
    "end_user_sessions",
    "log_event",
    "read_session",
    "read_setting",
    "read_user",
    "read_users",
    "same_token",
    "set_disabled",
    "set_password",
    "start_session",
]

#: role -> what it may do. ``site`` sees only its own site's patients; ``admin`` manages accounts, no patient data.
ROLES: dict[str, str] = {
    "site": "reads (and, with data entry, edits) its own site's patients only",
    "data_manager": "reads and edits every site's patients, runs validation, downloads exports",
    "investigator": "reads and analyses every site's patients (identifiers masked); no edits",
    "admin": "manages user accounts; sees no patient data",
}
MIN_PASSWORD_LENGTH = 12
_MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte per request would be a denial of service
#: Consecutive failed sign-ins that lock an account, and for how long.
MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
#: A session ends after this long without a request, and in any case this long after sign-in.
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
_TOUCH_EVERY = timedelta(seconds=60)  # last-seen is written at most once a minute per session
_HASHER = PasswordHasher()  # Argon2id with argon2-cffi's RFC 9106 low-memory defaults
#: Verified against when the name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class User(SQLModel, table=True):
    """A person who signs in to the web application."""

    __tablename__ = "app_user"

    name: str = _f(label="User name (shown as 'who' in the audit trail)", primary_key=True, max_length=64)
    role: str = _f(label="Role (site, data_manager, investigator, admin)", max_length=16)
    site: str | None = _f(label="Site whose patients a site user sees", max_length=64)
    password_hash: str = _f(label="Argon2id hash of the password", max_length=256)
    disabled: bool = _f(False, label="Disabled (cannot sign in; kept for the audit trail)")
    failed_sign_ins: int = _f(0, label="Consecutive failed sign-ins")
    locked_until: str | None = _f(label="Locked until (UTC, ISO 8601) after repeated failures", max_length=40)
    created_ts: str = _f(label="Created (UTC)", max_length=40)
    password_ts: str = _f(label="Password last set (UTC)", max_length=40)
    last_sign_in_ts: str | None = _f(label="Last successful sign-in (UTC)", max_length=40)


class WebSession(SQLModel, table=True):
    """A signed-in browser: the SHA-256 of its random token, its CSRF token and its expiry."""

    __tablename__ = "web_session"

    token_hash: str = _f(label="SHA-256 of the session token (the token itself is never stored)",
                         primary_key=True, max_length=64)  # fmt: skip
    user_name: str = _f(label="Who", foreign_key="app_user.name", index=True, max_length=64)
    csrf_token: str = _f(label="Token every state-changing request of this session must carry", max_length=64)
    created_ts: str = _f(label="Signed in (UTC)", max_length=40)
    last_seen_ts: str = _f(label="Last request (UTC)", max_length=40)
    client: str | None = _f(label="Client address at sign-in", max_length=64)


class WebEvent(SQLModel, table=True):
    """The access log: sign-ins (and failures), lock-outs, sign-outs, patient views, downloads."""

    __tablename__ = "web_event"

    id: int | None = _f(None, label="Event id", primary_key=True)
    ts: str = _f(label="When (UTC)", max_length=40)
    user_name: str | None = _f(label="User name given or signed in", max_length=64, index=True)
    event: str = _f(label="sign_in, sign_in_failed, locked_out, sign_out, view, download", max_length=32)
    detail: str | None = _f(label="What was viewed or downloaded", max_length=256)
    client: str | None = _f(label="Client address", max_length=64)


class WebSetting(SQLModel, table=True):
    """Server secrets shared by every worker process (cookie signing key, pseudonym key)."""

    __tablename__ = "web_setting"

    key: str = _f(label="Setting", primary_key=True, max_length=64)
    value: str = _f(label="Value", max_length=256)


@dataclass(frozen=True)
class Account:
    """A signed-in user as the web layer sees it (no hash)."""

    name: str
    role: str
    site: str | None


@dataclass(frozen=True)
class SignIn:
    """The outcome of :func:`authenticate`: the account, or None and why (for the access log only)."""

    account: Account | None
    reason: str = ""


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_password_rules(name: str, password: str) -> None:
    """Raise InputError unless the password is 12 to 1024 characters and not the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password of {name} must have at least {MIN_PASSWORD_LENGTH} characters "
                         f"(got {len(password)}); a passphrase of several words is easiest")  # fmt: skip
    if len(password) > _MAX_PASSWORD_LENGTH:
        raise InputError(f"the password of {name} must have at most {_MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() == name.strip().lower():
        raise InputError(f"the password of {name} must not be the user name")


def _check_account(name: str, role: str, site: str | None) -> None:
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InputError(f"user name {name!r} must be 1-64 letters, digits, '.', '-' or '_'")
    if role not in ROLES:
        raise InputError(f"role {role!r} is not known; use one of {', '.join(ROLES)}")
    if role == "site" and not (site or "").strip():
        raise InputError(f"a site user sees one site's patients; give --site for {name}")
    if role != "site" and site:
        raise InputError(f"--site is for the site role only; a {role} is not tied to one site")


def _audit(session: Session, name: str, field: str, old: object, new: object, reason: str, by: str, action: str):
    append_entries(session, [{"action": action, "table_name": "app_user", "record_id": name, "patient_id": None,
                              "field": field, "old_value": old, "new_value": new, "reason": reason}], user=by)  # fmt: skip


def read_user(session: Session, name: str) -> User:
    """The account ``name``; NotFoundError when there is none."""
    user = session.get(User, name)
    if user is None:
        raise NotFoundError(f"user {name} does not exist; list accounts with `tkitrack user list`")
    return user


def read_users(session: Session) -> list[User]:
    """Every account, by name."""
    return list(session.execute(select(User).order_by(User.name)).scalars())


def add_user(session: Session, name: str, role: str, password: str, *, site: str | None, by: str,
             reason: str = "account created") -> User:  # fmt: skip
    """Create an account (audited as an insert of ``app_user`` by ``by``)."""
    _check_account(name, role, site)
    check_password_rules(name, password)
    if session.get(User, name) is not None:
        raise InputError(f"user {name} already exists; change it with `tkitrack user password` or `user disable`")
    now = _ts(_now())
    user = User(name=name, role=role, site=site or None, password_hash=_HASHER.hash(password), created_ts=now,
                password_ts=now)  # fmt: skip
    session.add(user)
    session.flush()
    _audit(session, name, "*", None, json.dumps({"role": role, "site": site or None}), reason, by, "insert")
    return user


def set_password(session: Session, name: str, password: str, *, by: str, reason: str = "password changed") -> None:
    """Set a new password; unlocks the account and ends its sessions (audited, the hash is never shown)."""
    user = read_user(session, name)
    check_password_rules(name, password)
    session.execute(update(User).where(User.name == name).values(
        password_hash=_HASHER.hash(password), password_ts=_ts(_now()), failed_sign_ins=0, locked_until=None))  # fmt: skip
    end_user_sessions(session, name)
    _audit(session, user.name, "password", "(hidden)", "(hidden)", reason, by, "update")


def set_disabled(session: Session, name: str, disabled: bool, *, by: str, reason: str) -> bool:
    """Disable (ending every session) or enable an account; returns False when it already was so."""
    if not (reason or "").strip():
        raise InputError(f'{"disabling" if disabled else "enabling"} {name} needs a reason; pass --reason "..."')
    user = read_user(session, name)
    if user.disabled == disabled:
        return False
    values = {"disabled": disabled} | ({} if disabled else {"failed_sign_ins": 0, "locked_until": None})
    session.execute(update(User).where(User.name == name).values(**values))
    if disabled:
        end_user_sessions(session, name)
    _audit(session, name, "disabled", str(not disabled).lower(), str(disabled).lower(), reason, by, "update")
    return True


def log_event(session: Session, event: str, *, user: str | None, detail: str | None = None,
              client: str | None = None) -> None:  # fmt: skip
    """Append one line to the access log."""
    session.execute(insert(WebEvent).values(ts=_ts(_now()), user_name=(user or "")[:64] or None, event=event,
                                            detail=(detail or "")[:256] or None, client=client))  # fmt: skip


def authenticate(session: Session, name: str, password: str, *, client: str | None = None) -> SignIn:
    """Check a name and password; count failures and lock the account after :data:`MAX_FAILED_SIGN_INS`.

    Unknown names, wrong passwords, disabled and locked accounts all return ``SignIn(None, reason)``; the
    caller shows one message for all of them so that nobody can learn which names exist. Each outcome is
    written to the access log.
    """
    now = _now()
    user = session.get(User, name) if 0 < len(name) <= 64 else None
    if len(password) > _MAX_PASSWORD_LENGTH:
        password = password[:_MAX_PASSWORD_LENGTH]
    try:
        ok = _HASHER.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if user is None:
        reason = "unknown user"
    elif user.disabled:
        reason = "account disabled"
    elif user.locked_until is not None and datetime.fromisoformat(user.locked_until) > now:
        reason = "account locked"
    elif not ok:
        reason = "wrong password"
        failed = user.failed_sign_ins + 1
        locked = _ts(now + LOCKOUT) if failed >= MAX_FAILED_SIGN_INS else None
        session.execute(update(User).where(User.name == name).values(
            failed_sign_ins=0 if locked else failed, locked_until=locked))  # fmt: skip
        if locked:
            log_event(session, "locked_out", user=name, detail=f"{failed} failed sign-ins; locked until {locked}",
                      client=client)  # fmt: skip
    else:
        values = {"failed_sign_ins": 0, "locked_until": None, "last_sign_in_ts": _ts(now)}
        if _HASHER.check_needs_rehash(user.password_hash):
            values["password_hash"] = _HASHER.hash(password)
        session.execute(update(User).where(User.name == name).values(**values))
        log_event(session, "sign_in", user=name, client=client)
        return SignIn(Account(user.name, user.role, user.site))
    log_event(session, "sign_in_failed", user=name, detail=reason, client=client)
    return SignIn(None, reason)


def start_session(session: Session, account: Account, *, client: str | None = None) -> tuple[str, str]:
    """A new session for a signed-in account: returns (token for the cookie, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _ts(_now())
    session.execute(insert(WebSession).values(token_hash=_digest(token), user_name=account.name, csrf_token=csrf,
                                              created_ts=now, last_seen_ts=now, client=client))  # fmt: skip
    return token, csrf


def read_session(session: Session, token: str) -> tuple[Account, str] | None:
    """The account and CSRF token of a live session, or None (unknown, expired, account disabled).

    Expired sessions are deleted; a live one has its last-seen time moved on (at most once a minute).
    """
    now = _now()
    row = session.execute(
        select(WebSession, User).join(User, User.name == WebSession.user_name)
        .where(WebSession.token_hash == _digest(token))
    ).first()  # fmt: skip
    if row is None:
        return None
    web, user = row
    seen, created = datetime.fromisoformat(web.last_seen_ts), datetime.fromisoformat(web.created_ts)
    if user.disabled or now - seen > SESSION_IDLE or now - created > SESSION_ABSOLUTE:
        session.execute(delete(WebSession).where(WebSession.token_hash == web.token_hash))
        return None
    if now - seen > _TOUCH_EVERY:
        session.execute(update(WebSession).where(WebSession.token_hash == web.token_hash)
                        .values(last_seen_ts=_ts(now)))  # fmt: skip
    return Account(user.name, user.role, user.site), web.csrf_token


def end_session(session: Session, token: str) -> str | None:
    """Sign out: delete the session; returns whose it was (None when there was none)."""
    web = session.get(WebSession, _digest(token))
    if web is None:
        return None
    session.execute(delete(WebSession).where(WebSession.token_hash == web.token_hash))
    return web.user_name


def end_user_sessions(session: Session, name: str) -> int:
    """End every session of one account (disable, password change); returns how many."""
    return session.execute(delete(WebSession).where(WebSession.user_name == name)).rowcount or 0


def read_setting(session: Session, key: str) -> str:
    """A server secret, created (random, 256 bits) on first use and the same for every worker afterwards."""
    row = session.get(WebSetting, key)
    if row is None:
        session.execute(insert(WebSetting).values(key=key, value=secrets.token_urlsafe(32)))
        row = session.get(WebSetting, key)
    return row.value


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return bool(given) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
