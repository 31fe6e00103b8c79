"""Tests for tkitrack.schemas.users: accounts, Argon2 hashes, lock-out, sessions and their expiry, audit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tkitrack.schemas import users
from tkitrack.schemas.audit import read_audit_log, verify_chain
from tkitrack.schemas.errors import InputError, NotFoundError
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.users import (
    LOCKOUT,
    MAX_FAILED_SIGN_INS,
    SESSION_ABSOLUTE,
    SESSION_IDLE,
    User,
    WebEvent,
    WebSession,
    add_user,
    authenticate,
    end_session,
    read_session,
    read_setting,
    read_users,
    same_token,
    set_disabled,
    set_password,
    start_session,
)

PASSWORD = "correct horse battery"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """A settable clock for users._now."""
    now = {"t": T0}
    monkeypatch.setattr(users, "_now", lambda: now["t"])
    return now


@pytest.fixture
def alice(engine):
    with transaction(engine) as s:
        add_user(s, "alice", "site", PASSWORD, site="SITE-A", by="root")
    return engine


def _events(engine) -> list[tuple[str, str | None, str | None]]:
    with transaction(engine) as s:
        rows = s.execute(select(WebEvent).order_by(WebEvent.id)).scalars().all()
        return [(r.event, r.user_name, r.detail) for r in rows]


def test_password_is_stored_as_an_argon2id_hash_only(alice):
    with transaction(alice) as s:
        user = s.get(User, "alice")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert (user.role, user.site, user.disabled, user.failed_sign_ins) == ("site", "SITE-A", False, 0)


@pytest.mark.parametrize(
    ("name", "role", "site", "password", "says"),
    [
        pytest.param("bob", "site", "S1", "x" * 11, "at least 12 characters (got 11)", id="11-chars-too-short"),
        pytest.param("bob", "site", "S1", "x" * 1025, "at most 1024 characters", id="too-long"),
        pytest.param("bobbobbobbob", "site", "S1", "BobBobBobBob", "must not be the user name", id="name-as-password"),
        pytest.param("bob", "nurse", None, PASSWORD, "role 'nurse' is not known", id="unknown-role"),
        pytest.param("bob", "site", None, PASSWORD, "give --site for bob", id="site-user-without-site"),
        pytest.param("bob", "investigator", "S1", PASSWORD, "--site is for the site role only", id="site-on-other"),
        pytest.param("bob smith", "admin", None, PASSWORD, "must be 1-64 letters", id="space-in-name"),
        pytest.param("<b>", "admin", None, PASSWORD, "must be 1-64 letters", id="markup-in-name"),
    ],
)
def test_add_user_refuses_bad_accounts_and_writes_nothing(engine, name, role, site, password, says):
    with pytest.raises(InputError, match=re.escape(says)), transaction(engine) as s:
        add_user(s, name, role, password, site=site, by="root")
    with transaction(engine) as s:
        assert read_users(s) == []
        assert read_audit_log(s).empty


def test_twelve_characters_is_enough(engine):
    with transaction(engine) as s:
        add_user(s, "bob", "admin", "x" * 12, site=None, by="root")
        assert [u.name for u in read_users(s)] == ["bob"]


def test_duplicate_user_is_refused(alice):
    with pytest.raises(InputError, match="user alice already exists"), transaction(alice) as s:
        add_user(s, "alice", "admin", PASSWORD, site=None, by="root")


def test_account_changes_are_audited_with_who_did_them(alice, clock):
    with transaction(alice) as s:
        set_password(s, "alice", "another long passphrase", by="admin1", reason="forgotten")
        assert set_disabled(s, "alice", True, by="admin1", reason="left the hospital")
        assert not set_disabled(s, "alice", True, by="admin1", reason="again")  # already disabled: no entry
        trail = read_audit_log(s, table="app_user")
        assert verify_chain(s).ok
    rows = trail[["user", "action", "record_id", "field", "old_value", "new_value", "reason"]].values.tolist()
    assert rows == [
        ["root", "insert", "alice", "*", None, '{"role": "site", "site": "SITE-A"}', "account created"],
        ["admin1", "update", "alice", "password", "(hidden)", "(hidden)", "forgotten"],
        ["admin1", "update", "alice", "disabled", "false", "true", "left the hospital"],
    ]
    assert "another long passphrase" not in trail.to_string()


def test_disable_needs_a_reason(alice):
    with pytest.raises(InputError, match="needs a reason"), transaction(alice) as s:
        set_disabled(s, "alice", True, by="root", reason=" ")


def test_unknown_user_is_not_found(engine):
    with pytest.raises(NotFoundError, match="user nobody does not exist"), transaction(engine) as s:
        set_password(s, "nobody", PASSWORD, by="root")


def test_right_password_signs_in_and_is_logged(alice, clock):
    with transaction(alice) as s:
        result = authenticate(s, "alice", PASSWORD, client="127.0.0.1")
    assert result.account == users.Account("alice", "site", "SITE-A")
    assert _events(alice) == [("sign_in", "alice", None)]


@pytest.mark.parametrize(
    ("name", "password", "reason"),
    [
        pytest.param("alice", "wrong password!!", "wrong password", id="wrong-password"),
        pytest.param("mallory", PASSWORD, "unknown user", id="unknown-user"),
        pytest.param("", PASSWORD, "unknown user", id="empty-name"),
        pytest.param("a" * 65, PASSWORD, "unknown user", id="overlong-name"),
    ],
)
def test_failed_sign_in_says_nothing_about_which_part_was_wrong(alice, name, password, reason):
    with transaction(alice) as s:
        result = authenticate(s, name, password)
    assert result.account is None and result.reason == reason  # the reason is for the access log only
    assert _events(alice)[-1][0] == "sign_in_failed"


def test_lock_out_after_exactly_five_failures_then_unlock_after_fifteen_minutes(alice, clock):
    for _ in range(MAX_FAILED_SIGN_INS - 1):
        with transaction(alice) as s:
            assert authenticate(s, "alice", "not the password").account is None
    with transaction(alice) as s:  # four failures: the right password still works and resets the count
        assert authenticate(s, "alice", PASSWORD).account is not None
        assert s.get(User, "alice").failed_sign_ins == 0
    for _ in range(MAX_FAILED_SIGN_INS):
        with transaction(alice) as s:
            authenticate(s, "alice", "not the password")
    until = (T0 + LOCKOUT).isoformat(timespec="microseconds")
    assert ("locked_out", "alice", f"5 failed sign-ins; locked until {until}") in _events(alice)
    with transaction(alice) as s:  # locked: even the right password is refused
        assert authenticate(s, "alice", PASSWORD).reason == "account locked"
    clock["t"] = T0 + LOCKOUT - timedelta(seconds=1)
    with transaction(alice) as s:
        assert authenticate(s, "alice", PASSWORD).reason == "account locked"
    clock["t"] = T0 + LOCKOUT + timedelta(seconds=1)
    with transaction(alice) as s:
        assert authenticate(s, "alice", PASSWORD).account is not None


def test_password_reset_unlocks(alice, clock):
    for _ in range(MAX_FAILED_SIGN_INS):
        with transaction(alice) as s:
            authenticate(s, "alice", "not the password")
    with transaction(alice) as s:
        set_password(s, "alice", "a brand new passphrase", by="admin1")
        assert authenticate(s, "alice", "a brand new passphrase").account is not None


def test_disabled_account_cannot_sign_in(alice):
    with transaction(alice) as s:
        set_disabled(s, "alice", True, by="admin1", reason="left")
        assert authenticate(s, "alice", PASSWORD).reason == "account disabled"
        set_disabled(s, "alice", False, by="admin1", reason="back")
        assert authenticate(s, "alice", PASSWORD).account is not None


def test_session_token_is_stored_only_as_its_digest(alice):
    with transaction(alice) as s:
        token, csrf = start_session(s, users.Account("alice", "site", "SITE-A"))
        row = s.execute(select(WebSession)).scalar_one()
    assert token not in row.token_hash and len(row.token_hash) == 64 and row.csrf_token == csrf
    assert len(token) >= 43 and len(csrf) >= 43  # 256 random bits each


@pytest.mark.parametrize(
    ("idle", "live"),
    [
        pytest.param(SESSION_IDLE - timedelta(seconds=1), True, id="just-under-idle-limit"),
        pytest.param(SESSION_IDLE + timedelta(seconds=1), False, id="just-over-idle-limit"),
    ],
)
def test_session_idle_expiry(alice, clock, idle, live):
    with transaction(alice) as s:
        token, csrf = start_session(s, users.Account("alice", "site", "SITE-A"))
    clock["t"] = T0 + idle
    with transaction(alice) as s:
        got = read_session(s, token)
    assert (got is not None) == live
    if live:
        assert got == (users.Account("alice", "site", "SITE-A"), csrf)
    with transaction(alice) as s:
        assert len(s.execute(select(WebSession)).all()) == (1 if live else 0)  # an expired one is deleted


def test_activity_keeps_a_session_alive_until_the_absolute_limit(alice, clock):
    with transaction(alice) as s:
        token, _ = start_session(s, users.Account("alice", "site", "SITE-A"))
    step = SESSION_IDLE - timedelta(minutes=1)
    t = T0
    while t + step < T0 + SESSION_ABSOLUTE:
        t += step
        clock["t"] = t
        with transaction(alice) as s:
            assert read_session(s, token) is not None, t - T0
    clock["t"] = T0 + SESSION_ABSOLUTE + timedelta(seconds=1)
    with transaction(alice) as s:
        assert read_session(s, token) is None


def test_sign_out_disable_and_password_change_end_sessions(alice, clock):
    account = users.Account("alice", "site", "SITE-A")
    with transaction(alice) as s:
        t1, _ = start_session(s, account)
        t2, _ = start_session(s, account)
        t3, _ = start_session(s, account)
        assert end_session(s, t1) == "alice"
        assert end_session(s, t1) is None
        assert read_session(s, t1) is None and read_session(s, t2) is not None
        set_password(s, "alice", "another long passphrase", by="admin1")
        assert read_session(s, t2) is None and read_session(s, t3) is None
        t4, _ = start_session(s, account)
        set_disabled(s, "alice", True, by="admin1", reason="left")
        assert read_session(s, t4) is None


def test_disabled_user_session_is_refused_even_if_its_row_survived(alice):
    """Disabling ends sessions; a session row written in a race is still refused because the user is disabled."""
    with transaction(alice) as s:
        token, _ = start_session(s, users.Account("alice", "site", "SITE-A"))
        s.execute(User.__table__.update().values(disabled=True))
        assert read_session(s, token) is None


def test_server_setting_is_created_once_and_then_stable(engine):
    with transaction(engine) as s:
        first = read_setting(s, "cookie_key")
    with transaction(engine) as s:
        assert read_setting(s, "cookie_key") == first
        assert read_setting(s, "other") != first
    assert len(first) >= 43


@pytest.mark.parametrize(
    ("given", "expected", "same"),
    [
        pytest.param("abc", "abc", True, id="equal"),
        pytest.param("abd", "abc", False, id="differs"),
        pytest.param("", "abc", False, id="empty"),
        pytest.param(None, "abc", False, id="missing"),
    ],
)
def test_same_token(given, expected, same):
    assert same_token(given, expected) is same
