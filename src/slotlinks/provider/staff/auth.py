"""Staff accounts and sessions: who may open the staff pages.

Accounts are made and removed through the admin API; staff sign in with a username and password and
get a session of `SESSION_HOURS`. Passwords are hashed with scrypt (RFC 7914; OWASP Password Storage
Cheat Sheet, "scrypt").

A password is stored as `scrypt$<n>$<r>$<p>$<salt>$<hash>` (salt and hash in unpadded base64url):
the parameters travel with the hash, so they can be raised later without invalidating old hashes. Each
hash has its own random 16-byte salt, so equal passwords never hash alike. Verification recomputes the
hash with the stored parameters and compares in constant time.

A session token is 32 random bytes given to the browser once; only its SHA-256 is stored, so a copy of
the database does not sign anyone in. Sessions are checked against the store's clock, so expiry is
testable without waiting. Account and session rows are not published: they are written without
bumping the data set (as the referral outcome log is).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import cache

from sqlalchemy import delete, select, update

from slotlinks.clock import Clock, now_ms
from slotlinks.db.engine import writing
from slotlinks.errors import InvalidInput, NotFound
from slotlinks.provider.portal.audit import audit
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "SESSION_HOURS",
    "StaffSession",
    "StaffUser",
    "clean_username",
    "delete_staff_user",
    "hash_password",
    "new_session_token",
    "put_staff_user",
    "session_hash",
    "session_user",
    "sign_in",
    "sign_out",
    "verify_password",
]

SESSION_HOURS = 8
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # scrypt's cost does not depend on it, but a request body should be small

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
# The most memory scrypt may use for parameters we accept: 128 * r * n bytes, with room to spare.
_MAX_MEMORY = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAX_MEMORY)


def hash_password(password: str) -> str:
    """The storable scrypt hash of `password`, with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, N, R, P, KEY_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash. A malformed hash, or parameters too weak or too
    costly to be ours, never matches."""
    try:
        scheme, n_text, r_text, p_text, salt_text, key_text = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, key = _unb64(salt_text), _unb64(key_text)
    except ValueError:
        return False
    if scheme != SCHEME or not (2**10 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16) or len(key) < 16:
        return False
    if 128 * r * n > _MAX_MEMORY // 2:
        return False
    candidate = _scrypt(password, salt, n, r, p, len(key))
    return hmac.compare_digest(candidate, key)


def new_session_token() -> str:
    """A fresh session token for the browser's cookie."""
    return secrets.token_urlsafe(32)


def session_hash(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


@cache
def _decoy_hash() -> str:
    # Verified against when the username is unknown, so a wrong username costs as much as a wrong password.
    return hash_password(secrets.token_urlsafe(16))


# --- accounts --------------------------------------------------------------------------------------

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


@dataclass(frozen=True, slots=True)
class StaffUser:
    username: str
    active: bool
    created_ms: int


@dataclass(frozen=True, slots=True)
class StaffSession:
    """A signed-in browser: `token` goes into its cookie (and nowhere else)."""

    username: str
    token: str
    expires_ms: int


def clean_username(username: str) -> str:
    """The canonical (lower-case) form of a username: 1 to 64 letters, digits, `.`, `_`, `@`, `-`."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise InvalidInput("a username is 1 to 64 letters, digits, '.', '_', '@' or '-'", expression=("username",))
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must be at least {MIN_PASSWORD_LENGTH} characters", expression=("password",))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must be at most {MAX_PASSWORD_LENGTH} characters", expression=("password",))


def put_staff_user(*, store: ProviderStore, clock: Clock, username: str, password: str) -> StaffUser:
    """Creates the account, or sets its password (and reactivates it). Its open sessions end."""
    name = clean_username(username)
    _check_password(password)
    hashed = hash_password(password)
    at_ms = now_ms(clock)
    u = t.staff_user.c
    with writing(store.engine) as conn:
        row = conn.execute(select(u.created_ms).where(u.username == name)).first()
        conn.execute(delete(t.staff_session).where(t.staff_session.c.username == name))
        if row is None:
            conn.execute(
                t.staff_user.insert().values(username=name, password_hash=hashed, active=True, created_ms=at_ms)
            )
            return StaffUser(name, True, at_ms)
        conn.execute(update(t.staff_user).where(u.username == name).values(password_hash=hashed, active=True))
        return StaffUser(name, True, int(row.created_ms))


def delete_staff_user(*, store: ProviderStore, username: str) -> None:
    """Deactivates the account and ends its sessions (the row stays: audit entries name it)."""
    name = clean_username(username)
    u = t.staff_user.c
    with writing(store.engine) as conn:
        conn.execute(delete(t.staff_session).where(t.staff_session.c.username == name))
        done = conn.execute(update(t.staff_user).where(u.username == name, u.active).values(active=False))
        if done.rowcount != 1:
            raise NotFound(f"no staff user {name!r}")


# --- sessions --------------------------------------------------------------------------------------


def sign_in(*, store: ProviderStore, clock: Clock, username: str, password: str) -> StaffSession | None:
    """A new session when the username and password match an active account, else None (the same
    work either way: an unknown user is checked against a decoy hash)."""
    try:
        name = clean_username(username)
    except InvalidInput:
        name = ""
    u = t.staff_user.c
    with store.read() as conn:
        row = conn.execute(select(u.password_hash, u.active).where(u.username == name)).first() if name else None
    stored = row.password_hash if row is not None and row.active else _decoy_hash()
    # Never longer than an account's password can be; the decoy keeps the work the same.
    too_long = len(password) > MAX_PASSWORD_LENGTH
    matched = verify_password(password[:MAX_PASSWORD_LENGTH], stored) and not too_long
    if not matched or row is None or not row.active:
        return None
    at_ms = now_ms(clock)
    token = new_session_token()
    expires_ms = at_ms + SESSION_HOURS * 3600 * 1000
    s = t.staff_session.c
    with writing(store.engine) as conn:
        conn.execute(delete(t.staff_session).where(s.expires_ms <= at_ms))
        conn.execute(
            t.staff_session.insert().values(
                token_hash=session_hash(token), username=name, created_ms=at_ms, expires_ms=expires_ms
            )
        )
        audit(conn, at_ms=at_ms, action="staff-sign-in", detail=name)
    return StaffSession(name, token, expires_ms)


def session_user(*, store: ProviderStore, clock: Clock, token: str | None) -> str | None:
    """The username signed in with this session token, if the session is live and the account active."""
    if not token:
        return None
    s, u = t.staff_session.c, t.staff_user.c
    with store.read() as conn:
        row = conn.execute(
            select(s.username)
            .join(t.staff_user, u.username == s.username)
            .where(s.token_hash == session_hash(token), s.expires_ms > now_ms(clock), u.active)
        ).first()
    return None if row is None else str(row.username)


def sign_out(*, store: ProviderStore, clock: Clock, token: str | None) -> None:
    """Ends the session (whether or not it was still live)."""
    if not token:
        return
    s = t.staff_session.c
    with writing(store.engine) as conn:
        row = conn.execute(select(s.username).where(s.token_hash == session_hash(token))).first()
        if row is not None:
            conn.execute(delete(t.staff_session).where(s.token_hash == session_hash(token)))
            audit(conn, at_ms=now_ms(clock), action="staff-sign-out", detail=str(row.username))
