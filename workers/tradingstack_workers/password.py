"""The one password rule, shared by every reader of a Redis password.

The workers (a mounted file), the operator (a Secret's data) and the Redis pods' scripts
(``redis_sh/lib.sh``, the same rule in sh) read passwords alike: exactly one trailing
newline is dropped, because ``kubectl create secret --from-file`` adds one; anything else
that a reader could guess at differently is refused with the reason: an empty value,
NUL, another line break, a leading or trailing blank, bytes that are not UTF-8.
"""

from __future__ import annotations

from pathlib import Path


class PasswordError(ValueError):
    """A password that breaks the rule; the message says which way (never the value)."""


def password_from_bytes(raw: bytes) -> str:
    """The password ``raw`` holds, or :class:`PasswordError`."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if not raw:
        raise PasswordError("is empty")
    if b"\0" in raw:
        raise PasswordError("holds a NUL byte")
    if b"\n" in raw or b"\r" in raw:
        raise PasswordError("holds a line break inside the password")
    if raw[:1] in (b" ", b"\t") or raw[-1:] in (b" ", b"\t"):
        raise PasswordError("starts or ends with a blank")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PasswordError("is not UTF-8 text") from None


def read_password(path: Path) -> str:
    """The password in ``path``; OSError when unreadable, PasswordError naming the file."""
    try:
        return password_from_bytes(path.read_bytes())
    except PasswordError as exc:
        raise PasswordError(f"{path} {exc}") from None
