"""Password hashing (argon2id with argon2-cffi's defaults, which meet OWASP's minimum) and the rules a
new password must follow."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
_hasher = PasswordHasher()
# Compared against when the account does not exist, so a wrong name costs as much time as a wrong password.
_DUMMY = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, username: str = "") -> str | None:
    """Why `password` may not be used, in Chinese; None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 个字符"
    if username and username.lower() in password.lower():
        return "密码不能包含用户名"
    if len(set(password)) < 4:
        return "密码过于简单"
    return None
