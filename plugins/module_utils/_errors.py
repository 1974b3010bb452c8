# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The one exception type of the collection and the secret scrubber."""

from __future__ import annotations


class ProviderError(Exception):
    """A failure talking to one provider, or a bad input for it.

    ``str()`` is the single line an operator reads: the provider, what failed, the
    provider's own code and message, and how to fix it.
    """

    def __init__(self, provider, message, status=None, code=None, hint=None, method=None, path=None):
        super().__init__(message)
        self.provider = provider
        self.message = message
        self.status = status
        self.code = code
        self.hint = hint
        self.method = method
        self.path = path

    def __str__(self):
        parts = [self.provider + ":"]
        if self.method:
            parts.append("%s %s" % (self.method, self.path) if self.path else self.method)
        if self.status is not None:
            parts.append("failed with HTTP %s" % self.status + (" (%s)" % self.code if self.code not in (None, "") else "") + ":")
        elif self.method:
            parts.append("failed:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.hint:
            text = text.rstrip(".") + ". " + self.hint
        return text

    def as_dict(self):
        return {"provider": self.provider, "message": str(self), "status": self.status,
                "code": self.code}


class InputError(ProviderError):
    """A bad option value, found before any API call."""


def redact(text, secrets):
    """Replace every secret value that appears in ``text`` with a placeholder."""
    if not text:
        return text
    text = str(text)
    for secret in secrets:
        if secret and len(str(secret)) >= 4:
            text = text.replace(str(secret), "********")
    return text
