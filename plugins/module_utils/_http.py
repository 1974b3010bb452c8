# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The one HTTP layer every provider client talks through.

What it guarantees, so provider files do not have to:
- connect/read timeouts on every call;
- bounded retries (urllib3's Retry) for 429 (honouring Retry-After, capped), 5xx and
  connection resets; 401 is never retried (Hetzner blocks an IP after 3 bad logins);
- a provider-specific rate-limit answer that is not a 429 (Hetzner's 403
  RATE_LIMIT_EXCEEDED) can be declared with ``rate_limit_wait`` and is retried too;
- every failure becomes one ProviderError carrying the provider's code and message plus a
  fix hint, and secrets are scrubbed from every message;
- nothing leaves the configured host: a redirect (any 3xx) is never followed and never taken
  for a success. Following one would send the body and the credentials to whoever the
  Location names (a 307 repeats a PUT there), turn a write into a GET whose 200 looks like
  success (302/303), or read state and snapshots from another host. Clients we do not build
  (python-ovh's Session) get the same rule through ``refuse_redirects``.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import threading
import time
from urllib.parse import urljoin, urlsplit

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError, redact


def _requests(provider="ddos.scrubbing"):
    """requests, imported when the first client is built, not with this file.

    Its import (urllib3, charset_normalizer, idna) costs about 70 ms of CPU, on the controller on
    every run: a run that sends no HTTP request (an event for a workspace without integrations,
    the controller's side of a remote state host, a status read from the ledger) does not pay it.
    Raises ProviderError naming the library when it is missing.
    """
    try:
        return importlib.import_module("requests")
    except ImportError as exc:
        raise ProviderError(provider, "the Python library 'requests' is required; install it on the host "
                            "that runs the module (pip install requests): %s" % exc)


class BearerToken:
    """``Authorization: Bearer <token>``, as requests' auth rather than a plain header.

    requests looks every request that has no auth of its own up in ~/.netrc (or $NETRC): a file
    read per call and, when the file names the provider's host, Basic credentials that replace
    the header, so the provider refuses the token the inventory gave. (Any callable is an auth to
    requests; its AuthBase adds nothing.)
    """

    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = "Bearer %s" % self.token
        return request


class NoCredentials:
    """No credentials at all (a notification webhook's URL is its own key): not ~/.netrc's either."""

    def __call__(self, request):
        return request


RETRY_STATUSES = (429, 500, 502, 503, 504)
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 4
# Cloudflare answers a 5-minute Retry-After once its window is exhausted; during an attack a
# bounded wait beats a stuck play, so one wait never exceeds this.
MAX_RETRY_AFTER = 30.0

# The run's deadline (time.monotonic() value), per thread: each integration's pipeline runs in
# its own thread and sets it, so a Retry-After longer than what is left fails at once.
_RUN = threading.local()


def set_deadline(deadline):
    _RUN.deadline = deadline


def remaining():
    """Seconds left before this thread's run deadline, or None without one."""
    deadline = getattr(_RUN, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


class RetryAfterBeyondDeadline(Exception):
    """The provider asked us to come back later than this run can wait."""

    def __init__(self, seconds, left):
        super().__init__(seconds)
        self.seconds = seconds
        self.left = left


def check_wait(seconds):
    left = remaining()
    if seconds and left is not None and seconds > left:
        raise RetryAfterBeyondDeadline(seconds, left)


@functools.lru_cache(maxsize=None)
def capped_retry():
    """urllib3's Retry whose Retry-After wait is capped, so a provider cannot park us, and never
    longer than the run has left (a class made on first use: urllib3 comes with requests)."""
    retry = importlib.import_module("urllib3.util.retry").Retry

    class CappedRetry(retry):
        max_retry_after = MAX_RETRY_AFTER

        def get_retry_after(self, response):
            value = super().get_retry_after(response)
            if value is None:
                return None
            check_wait(value)
            return min(value, self.max_retry_after)

    return CappedRetry


class HttpClient:
    """A requests.Session bound to one provider's base URL, auth and error envelope.

    ``error_parser(response) -> (code, message)`` turns the provider's error body into its
    code and message; ``hint(status, code, message, method, path) -> str`` adds the fix.
    ``rate_limit_wait(response) -> seconds|None`` flags a non-429 rate-limit answer.
    """

    def __init__(self, provider, base_url, timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES,
                 headers=None, auth=None, secrets=(), error_parser=None, hint=None,
                 rate_limit_wait=None, backoff_factor=0.5, sleep=time.sleep):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.secrets = tuple(s for s in secrets if s)
        self.error_parser = error_parser or default_error_parser
        self.hint = hint or (lambda *args: "")
        self.rate_limit_wait = rate_limit_wait
        self.sleep = sleep
        self.calls = []  # (method, path, status) of every request sent, for results and tests
        self._requests = _requests(provider)
        self.session = self._requests.Session()
        self.session.headers.update({"Accept": "application/json",
                                     "User-Agent": "ansible-ddos.scrubbing"})
        self.session.headers.update(headers or {})
        # Only the credentials given here: never ~/.netrc's (BearerToken says why).
        self.session.auth = auth if auth is not None else NoCredentials()
        # The environment's proxies and CA bundle, as requests' own merge_environment_settings
        # works them out, taken once per process (environment_settings) rather than by requests on
        # every call: at 1,000 integrations that per-call reading was a tenth of the run's CPU. The
        # same settings apply. A CA bundle matters to https only; on http it would still cost a
        # path check per call.
        environment = environment_settings(self.session, self.base_url)
        self.session.trust_env = False
        self.session.proxies = environment["proxies"]
        if self.base_url.startswith("https:"):
            self.session.verify = environment["verify"]
        adapter = shared_adapter(retries, backoff_factor)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    # -- calls ----------------------------------------------------------------------------
    def request(self, method, path, params=None, json_body=None, data=None, expect=(200, 201, 202, 204),
                allow_statuses=()):
        """Send one call; return the decoded JSON body (None when empty).

        ``allow_statuses`` are non-2xx statuses the caller handles itself (e.g. 404 meaning
        "absent"); for those the Response is returned instead of raising.
        """
        url = self.base_url + path
        attempts_left = self.retries
        failures = self._requests.exceptions
        while True:
            left = remaining()
            timeout = self.timeout if left is None else max(1.0, min(self.timeout, left))
            try:
                response = self.session.request(method, url, params=params, json=json_body, data=data,
                                                timeout=timeout, allow_redirects=False)
            except RetryAfterBeyondDeadline as exc:
                raise self._error(method, path, 429, None, (
                    "the provider asks to retry after %d s, more than the %d s left of this run's "
                    "scrubbing_deadline; not waiting. Retry after %s (reconcile does)" % (
                        exc.seconds, max(0, exc.left), time.strftime(
                            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + exc.seconds)))))
            except failures.RetryError as exc:
                raise self._error(method, path, None, None,
                                  "gave up after %d attempts (%s)" % (self.retries + 1, _reason(exc)))
            except failures.Timeout:
                raise self._error(method, path, None, None,
                                  "no answer within %ss from %s" % (timeout, self.base_url))
            except failures.ConnectionError as exc:
                reason = _reason(exc)
                if "Timeout" in reason.split(":")[0]:  # urllib3 read timeouts arrive wrapped like this
                    raise self._error(method, path, None, None,
                                      "no answer within %ss from %s" % (timeout, self.base_url))
                raise self._error(method, path, None, None, "cannot connect to %s (%s)" % (self.base_url, reason))
            self.calls.append((method, path, response.status_code))
            if is_redirect(response.status_code):
                raise self._error(method, path, response.status_code, None,
                                  redirect_message(response.headers.get("Location"), self.base_url, response.url),
                                  hint=REDIRECT_HINT)
            if response.status_code in allow_statuses:
                return response
            if response.status_code in expect or 200 <= response.status_code < 300:
                return decode(response)
            wait = self.rate_limit_wait(response) if self.rate_limit_wait else None
            if wait is not None and attempts_left > 0:
                attempts_left -= 1
                try:
                    check_wait(min(wait, MAX_RETRY_AFTER))
                except RetryAfterBeyondDeadline as exc:
                    raise self._error(method, path, response.status_code, None, (
                        "rate-limited; the next try would be in %d s, after this run's scrubbing_deadline "
                        "(%d s left). Run reconcile later" % (exc.seconds, max(0, exc.left))))
                self.sleep(min(wait, MAX_RETRY_AFTER))
                continue
            code, message = self.error_parser(response)
            attempts = attempts_made(response) + (self.retries - attempts_left)
            if attempts > 1:
                message = "%s (after %d attempts)" % (message, attempts)
            raise self._error(method, path, response.status_code, code, message)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def writes(self):
        return [c for c in self.calls if c[0] not in ("GET", "HEAD")]

    def _error(self, method, path, status, code, message, hint=None):
        hint = hint or self.hint(status, code, message, method, path) or ""
        return ProviderError(self.provider, redact(message, self.secrets), status=status, code=code,
                             hint=redact(hint, self.secrets), method=method, path=path)

    def close(self):
        # The adapter (and its pooled connections) is shared with other clients: keep it.
        self.session.adapters.clear()
        self.session.close()


REDIRECT_HINT = ("Set api_url to the address that serves the API itself (a redirect comes from a proxy, a moved "
                 "endpoint or someone in the way); nothing was sent to the other host")


def is_redirect(status):
    return 300 <= status < 400


def redirect_message(location, base_url, request_url=None):
    """What a 3xx answer asked for, naming the host its Location points at (never its path or
    query, which may carry a token, nor any user:password@ part)."""
    if not location:
        return "the answer was a redirect without a Location; not followed"
    target = urlsplit(urljoin(request_url or base_url + "/", location))
    try:
        host = target.hostname or "?"
        port = target.port
    except ValueError:  # a port that is not a number
        host, port = target.hostname or "?", None
    if ":" in host:
        host = "[%s]" % host
    where = "%s://%s%s" % (target.scheme or "?", host, ":%d" % port if port else "")
    return ("the answer was a redirect to %s, not followed: requests and credentials go only to %s"
            % (where, _origin(base_url)))


def _origin(url):
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc.rpartition("@")[2])


def refuse_redirects(session, provider, base_url, secrets=()):
    """Make a requests.Session we do not drive ourselves (python-ovh's) fail on any 3xx.

    The response hook runs before requests would follow the redirect, so nothing is sent to the
    Location; ``max_redirects = 0`` stays as a second lock should a hook ever be skipped.
    """
    def hook(response, *_args, **_kwargs):
        if is_redirect(response.status_code):
            request = response.request
            message = redirect_message(response.headers.get("Location"), base_url, getattr(request, "url", None))
            raise ProviderError(provider, redact(message, secrets),
                                status=response.status_code, hint=REDIRECT_HINT,
                                method=getattr(request, "method", None),
                                path=urlsplit(getattr(request, "url", "") or "").path or None)
        return response

    session.hooks.setdefault("response", []).append(hook)
    session.max_redirects = 0


_ENVIRONMENT = {}
# Read by requests besides the *_proxy variables (the last: urllib ignores HTTP_PROXY under CGI).
_ALSO_READ = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "REQUEST_METHOD")


def environment_settings(session, url):
    """requests' own proxies and CA bundle for ``url``, worked out once per process and environment.

    requests reads them from the environment (every ``*_proxy`` variable, ``no_proxy``, the CA
    bundle variables); the answer is kept under exactly those values, so a changed environment
    is read again, and the same one costs a dictionary lookup instead of a scan of the
    environment and a no_proxy match (0.17 ms, once per integration).
    """
    key = (url,) + tuple(sorted((name, value) for name, value in os.environ.items()
                                if name.lower().endswith("_proxy") or name in _ALSO_READ))
    settings = _ENVIRONMENT.get(key)
    if settings is None:
        settings = session.merge_environment_settings(url, {}, None, None, None)
        _ENVIRONMENT[key] = settings
    return {"proxies": dict(settings["proxies"]), "verify": settings["verify"]}


_ADAPTERS = {}
_ADAPTERS_LOCK = threading.Lock()
POOL_SIZE = 64


def shared_adapter(retries, backoff_factor):
    """One connection pool per retry policy for the whole process.

    The orchestrator runs many integrations of the same provider in threads; sharing the pool
    lets them reuse each other's keep-alive connections instead of each opening its own.
    urllib3's pools are thread-safe; the Retry object is only a template copied per request.
    """
    key = (retries, backoff_factor)
    with _ADAPTERS_LOCK:
        adapter = _ADAPTERS.get(key)
        if adapter is None:
            retry = capped_retry()(
                total=retries, connect=retries, read=retries, status=retries, other=0,
                status_forcelist=RETRY_STATUSES, allowed_methods=None,
                respect_retry_after_header=True, backoff_factor=backoff_factor,
                raise_on_status=False, raise_on_redirect=False)
            adapters = importlib.import_module("requests.adapters")
            adapter = adapters.HTTPAdapter(max_retries=retry, pool_connections=16, pool_maxsize=POOL_SIZE)
            _ADAPTERS[key] = adapter
        return adapter


def attempts_made(response):
    """How many times urllib3 sent this request (its Retry history travels with the answer)."""
    retries = getattr(getattr(response, "raw", None), "retries", None)
    history = getattr(retries, "history", None) or ()
    return len(history) + 1


def decode(response):
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def default_error_parser(response):
    body = decode(response)
    if isinstance(body, dict):
        return body.get("code"), body.get("message") or json.dumps(body)[:300]
    return None, (str(body)[:300] if body else response.reason or "HTTP %s" % response.status_code)


def _reason(exc):
    """The innermost cause of a requests/urllib3 exception, without the URL noise."""
    inner = exc
    for _depth in range(5):
        nxt = inner.args[0] if getattr(inner, "args", None) else None
        if isinstance(nxt, BaseException):
            inner = nxt
            continue
        reason = getattr(inner, "reason", None)
        if isinstance(reason, BaseException) and reason is not inner:
            inner = reason
            continue
        break
    return type(inner).__name__ + (": %s" % inner if str(inner) else "")
