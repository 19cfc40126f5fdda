"""Checks on the user behind a sign-in, shared by the sign-in page and the token grants."""

from __future__ import annotations

import hmac
import time

from ..directory import Directory, User
from .protocol import OAuthError


def password_matches(user: User, password: str) -> bool:
    return bool(user.password) and hmac.compare_digest(user.password.encode(),
                                                       password.encode())


def disabled() -> OAuthError:
    return OAuthError("invalid_grant", 50057,
                      "The user account is disabled. The account has been disabled by an "
                      "administrator.")


def must_change_password() -> OAuthError:
    # What Entra answers a non-interactive sign-in whose password must change first.
    return OAuthError("invalid_grant", 50055,
                      "The password is expired. The user must change it (sign in "
                      "interactively to set a new password).")


def unknown_user(username: str, directory: Directory) -> OAuthError:
    return OAuthError("invalid_grant", 50034,
                      f"The user account {username} does not exist in the "
                      f"{directory.tenant.id} directory. To sign into this application, the "
                      "account must be added to the directory.")


def bad_password() -> OAuthError:
    return OAuthError("invalid_grant", 50126,
                      "Error validating credentials due to invalid username or password.")


def _entra_time(stamp: float) -> str:
    """A time as Entra writes it in AADSTS50173: seven fractional digits, UTC."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp))
    return f"{whole}.{int(stamp % 1 * 10_000_000):07d}Z"


def revoked_grant(issued_at: float | None = None, valid_from: float | None = None) -> OAuthError:
    """AADSTS50173: a grant from before the user's ``TokensValidFrom`` (a password change or
    reset, or revokeSignInSessions); with both times, Entra's sentence naming them."""
    description = ("The provided grant has expired due to it being revoked, a fresh auth token "
                   "is needed. The user might have changed or reset their password.")
    if issued_at is not None and valid_from is not None:
        description += (f" The grant was issued on '{_entra_time(issued_at)}' and the "
                        f"TokensValidFrom date (before which tokens are not valid) for this "
                        f"user is '{_entra_time(valid_from)}'.")
    return OAuthError("invalid_grant", 50173, description)


def active_user(directory: Directory, user_id: str) -> User:
    """The user a grant belongs to, still existing and enabled."""
    user = directory.users.get(user_id)
    if user is None:
        raise OAuthError("invalid_grant", 50173, "The provided grant has expired due to it "
                         "being revoked, a fresh auth token is needed. The user no longer "
                         "exists.")
    if not user.account_enabled:
        raise disabled()
    return user


PASSWORD_RULES = ("Passwords must have 8 to 256 characters, and use at least three of: "
                  "upper-case letters, lower-case letters, digits, symbols.")


def new_password_problem(user: User, new: str, confirm: str) -> str | None:
    """Why ``new`` cannot be the user's new password (Entra's default rules), or None."""
    if new != confirm:
        return "The passwords don't match."
    if not 8 <= len(new) <= 256:
        return PASSWORD_RULES
    if new != new.strip():
        return "Passwords can't start or end with a space."
    classes = sum([any(c.isupper() for c in new), any(c.islower() for c in new),
                   any(c.isdigit() for c in new), any(not c.isalnum() for c in new)])
    if classes < 3:
        return PASSWORD_RULES
    if new == user.password:
        return "You can't reuse your current password. Choose a new one."
    return None
