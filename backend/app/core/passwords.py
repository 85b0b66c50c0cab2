"""The password rule for new accounts (OWASP ASVS 5.0 V6.2): at least 8 characters, no
composition rules, not one of the commonly used passwords, not built from the account's own
email or name. Length and commonness are what make a password guessable; symbols are not."""

from __future__ import annotations

from functools import cache

MIN_LENGTH = 8
# ASVS asks for at least the 3,000 most common; zxcvbn ships 30,000, ranked, from real leaks.
COMMON_PASSWORDS_CHECKED = 30_000
# Shorter fragments of an email or a name ("al", "dr") occur in unrelated passwords.
MIN_CONTEXT_WORD = 4
PRODUCT_WORDS = frozenset({"dimini"})


@cache
def common_passwords() -> frozenset[str]:
    # Imported on first use: zxcvbn's lists take ~0.2 s to import, which the backend's start-up
    # (pod start, dev-loop reload) should not pay.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    ranked: list[str] = FREQUENCY_LISTS["passwords"]
    return frozenset(ranked[:COMMON_PASSWORDS_CHECKED])


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalpha())


def _built_from_context(folded: str, email: str, name: str) -> bool:
    """The whole email name, the whole name or the product inside the password, or the password
    being one word of the name with digits and symbols around it ("Lovelace1!")."""
    local = email.lower().partition("@")[0]
    whole = {local, _letters(name), *PRODUCT_WORDS}
    if any(len(word) >= MIN_CONTEXT_WORD and word in folded for word in whole):
        return True
    return _letters(folded) in {
        part for part in name.lower().split() if len(part) >= MIN_CONTEXT_WORD
    }


def problem_with(password: str, email: str, name: str) -> str | None:
    """Why `password` is refused for this account, or None. The message never repeats it."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    folded = password.lower()
    if folded in common_passwords() or folded.strip("0123456789!") in common_passwords():
        return "is one of the most commonly used passwords; choose another"
    if _built_from_context(folded, email, name):
        return "must not be built from your name, your email address or the product's name"
    return None
