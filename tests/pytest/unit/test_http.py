"""The shared HTTP layer on its own: retry bounds, Retry-After cap, non-429 rate limits,
401 never retried, connection errors, secret scrubbing."""

from __future__ import annotations

import pytest

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import CappedRetry, HttpClient, MAX_RETRY_AFTER


def client(sandbox, **kw):
    kw.setdefault("retries", 2)
    kw.setdefault("backoff_factor", 0)
    return HttpClient("cloudflare_magic_transit", sandbox.api_url("cloudflare"),
                      headers={"Authorization": "Bearer sandbox-cf-token-rw"}, **kw)


def test_retry_after_is_capped():
    class Answer:  # what urllib3's Retry reads of a response
        def __init__(self, retry_after):
            self.headers = {"Retry-After": retry_after}

    retry = CappedRetry(total=1, respect_retry_after_header=True)
    assert retry.get_retry_after(Answer("300")) == MAX_RETRY_AFTER <= 30, "a 5-minute lockout is not waited out"
    assert retry.get_retry_after(Answer("2")) == 2


def test_401_is_never_retried(sandbox):
    http = HttpClient("cloudflare_magic_transit", sandbox.api_url("cloudflare"),
                      headers={"Authorization": "Bearer nope-nope"}, retries=4, backoff_factor=0)
    with pytest.raises(ProviderError) as err:
        http.get("/zones")
    assert err.value.status == 401
    assert len(sandbox.requests()) == 1


def test_5xx_retries_are_bounded(sandbox):
    sandbox.add_fault(provider="cloudflare", status=503, count=10)
    with pytest.raises(ProviderError, match="still failing after 2 retries"):
        client(sandbox).get("/zones")
    assert len(sandbox.requests()) == 3


def test_provider_rate_limit_answer_is_retried_then_bounded(sandbox):
    sandbox.add_fault(provider="cloudflare", status=403, body={"error": {"code": "RATE_LIMIT_EXCEEDED",
                                                                        "interval": 1}}, count=1)
    waits = []

    def hetzner_style(response):
        body = response.json()
        if response.status_code == 403 and isinstance(body.get("error"), dict) \
                and body["error"].get("code") == "RATE_LIMIT_EXCEEDED":
            return body["error"].get("interval", 1)
        return None

    http = client(sandbox, rate_limit_wait=hetzner_style, sleep=waits.append)
    assert http.get("/zones")["success"]
    assert waits == [1]
    sandbox.add_fault(provider="cloudflare", status=403, body={"error": {"code": "RATE_LIMIT_EXCEEDED"}}, count=10)
    with pytest.raises(ProviderError):
        client(sandbox, rate_limit_wait=hetzner_style, sleep=waits.append).get("/zones")
    assert len(waits) == 1 + 2


def test_connection_refused_is_one_clear_error():
    http = HttpClient("vultr_firewall", "http://127.0.0.1:9", retries=1, backoff_factor=0)
    with pytest.raises(ProviderError) as err:
        http.get("/firewalls")
    assert str(err.value).startswith("vultr_firewall: GET /firewalls failed:")
    assert "127.0.0.1:9" in str(err.value)


def test_timeout_is_reported(sandbox):
    sandbox.add_fault(provider="cloudflare", delay=1.5, count=5)
    with pytest.raises(ProviderError, match="no answer within 0.5s|gave up after"):
        client(sandbox, timeout=0.5, retries=0).get("/zones")


def test_secrets_are_scrubbed_from_messages():
    assert redact("token abc123secret failed", ["abc123secret"]) == "token ******** failed"
    assert redact("short xy kept", ["xy"]) == "short xy kept"  # too short to redact safely
    err = ProviderError("x", "bad", hint="h")
    assert str(err) == "x: bad. h"
