"""Keeping secrets out of what is recorded: the values of secret environment variables a runner
passed to a trial are replaced with ``***`` in reasons and output tails."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "***"


class Redactor:
    """Replaces the values of secret environment variables with ``***`` in text we record."""

    def __init__(self, secrets: Iterable[str] = ()):
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text
