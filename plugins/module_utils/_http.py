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

The calls go out through urllib3's connection pools, the transport requests itself drives,
without requests' layer on top (issue 18): that layer cost 0.58 ms of CPU per call against
urllib3's 0.29 ms (a thousand integrations make two thousand calls, all under one GIL), and its
import 43 ms of every run that calls a provider, against urllib3's 25 ms. What requests added
and we keep is written down here: the proxies and CA bundle it took from the environment
(``environment_settings``), JSON and form bodies, query parameters, Basic and Bearer
credentials (and never ~/.netrc's, which requests would read).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import threading
import time
from urllib.parse import unquote, urlencode, urljoin, urlsplit

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError, redact


def _urllib3(provider="ddos.scrubbing"):
    """urllib3, imported when the first client is built, not with this file: a run that sends no
    HTTP request (an event for a workspace without integrations, the controller's side of a
    remote state host, a status read from the ledger) does not pay for it.
    Raises ProviderError naming the library when it is missing.
    """
    try:
        return importlib.import_module("urllib3")
    except ImportError as exc:
        raise ProviderError(provider, "the Python library 'urllib3' is required (it comes with requests); install "
                            "it on the host that runs the module (pip install requests): %s" % exc)


class BearerToken:
    """``Authorization: Bearer <token>``."""

    def __init__(self, token):
        self.token = token

    def headers(self):
        return {"Authorization": "Bearer %s" % self.token}


def credential_headers(auth):
    """The headers of ``auth``: a BearerToken, a (user, password) pair for Basic, or None.

    Only these: never the credentials ~/.netrc (or $NETRC) holds for the provider's host, which
    requests would have put in place of the token the inventory gave, so that the provider refused it.
    """
    if auth is None:
        return {}
    if isinstance(auth, BearerToken):
        return auth.headers()
    user, password = auth
    return _urllib3().util.make_headers(basic_auth="%s:%s" % (user, password))


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
    longer than the run has left (a class made on first use, with urllib3's import)."""
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


class Response:
    """A provider's answer, under the names provider files read (``status_code``, ``headers``,
    ``json()``, ``text``), read whole: the connection is back in the pool when we get it."""

    def __init__(self, answer, url):
        self.status_code = answer.status
        self.reason = answer.reason
        self.headers = answer.headers  # case-insensitive
        self.content = answer.data or b""
        self.url = url
        self.retries = getattr(answer, "retries", None)  # urllib3's Retry, with its history

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class HttpClient:
    """One provider's base URL, credentials and error envelope, over the process's shared pools.

    ``auth`` is a BearerToken, a (user, password) pair (Basic) or None.
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
        self.urllib3 = _urllib3(provider)
        self.headers = {"Accept": "application/json", "User-Agent": "ansible-ddos.scrubbing"}
        self.headers.update(headers or {})
        self.headers.update(credential_headers(auth))
        environment = environment_settings(self.base_url)
        self.proxy = environment["proxy"]
        self.ca_certs = environment["ca_certs"] if self.base_url.startswith("https:") else None
        self.pool = shared_pool(self.proxy, self.ca_certs, retries, backoff_factor)

    # -- calls ----------------------------------------------------------------------------
    def request(self, method, path, params=None, json_body=None, data=None, expect=(200, 201, 202, 204),
                allow_statuses=()):
        """Send one call; return the decoded JSON body (None when empty).

        ``allow_statuses`` are non-2xx statuses the caller handles itself (e.g. 404 meaning
        "absent"); for those the Response is returned instead of raising.
        """
        url = with_query(self.base_url + path, params)
        headers = dict(self.headers)
        body, content_type = encode_body(json_body, data)
        if content_type:
            headers.setdefault("Content-Type", content_type)
        attempts_left = self.retries
        while True:
            left = remaining()
            timeout = self.timeout if left is None else max(1.0, min(self.timeout, left))
            response = self._send(method, path, url, headers, body, timeout)
            self.calls.append((method, path, response.status_code))
            if is_redirect(response.status_code):
                raise self._error(method, path, response.status_code, None,
                                  redirect_message(response.headers.get("Location"), self.base_url, url),
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

    def _send(self, method, path, url, headers, body, timeout):
        """One call through the pool (urllib3 retries it as ``shared_pool`` says); a failure to get
        any answer becomes the ProviderError that says which."""
        errors = self.urllib3.exceptions
        try:
            answer = self.pool.request(method, url, body=body, headers=headers, redirect=False,
                                       timeout=self.urllib3.Timeout(connect=timeout, read=timeout))
        except RetryAfterBeyondDeadline as exc:
            raise self._error(method, path, 429, None, (
                "the provider asks to retry after %d s, more than the %d s left of this run's "
                "scrubbing_deadline; not waiting. Retry after %s (reconcile does)" % (
                    exc.seconds, max(0, exc.left), time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + exc.seconds)))))
        except errors.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, errors.ResponseError):
                raise self._error(method, path, None, None,
                                  "gave up after %d attempts (%s)" % (self.retries + 1, _reason(exc)))
            if isinstance(reason, errors.TimeoutError) and not isinstance(reason, errors.NewConnectionError):
                raise self._error(method, path, None, None,
                                  "no answer within %ss from %s" % (timeout, self.base_url))
            raise self._error(method, path, None, None, "cannot connect to %s (%s)" % (self.base_url, _reason(exc)))
        return Response(answer, url)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def writes(self):
        return [c for c in self.calls if c[0] not in ("GET", "HEAD")]

    def _error(self, method, path, status, code, message, hint=None):
        hint = hint or self.hint(status, code, message, method, path) or ""
        return ProviderError(self.provider, redact(message, self.secrets), status=status, code=code,
                             hint=redact(hint, self.secrets), method=method, path=path)

    def close(self):
        """Nothing to release: the pool and its keep-alive connections are the process's (shared_pool)."""


def url_encoded(values):
    """A dict or pairs as ``a=1&b=2``, as requests encoded query parameters and forms: None values left
    out, a list's items repeated under its name."""
    pairs = values.items() if isinstance(values, dict) else values
    return urlencode([(k, v) for k, v in pairs if v is not None], doseq=True)


def with_query(url, params):
    """``url`` with ``params`` as its query."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + url_encoded(params)


def encode_body(json_body, data):
    """(bytes, content type) of a call's body: JSON, a form (a dict or pairs), data as given (its content
    type left to the caller's headers), or (None, None)."""
    if json_body is not None:
        return json.dumps(json_body, allow_nan=False).encode("utf-8"), "application/json"
    if data is None:
        return None, None
    if isinstance(data, (dict, list, tuple)):
        return url_encoded(data).encode("ascii"), "application/x-www-form-urlencoded"
    return (data.encode("utf-8") if isinstance(data, str) else data), None


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


def environment_settings(url):
    """The proxy and CA bundle requests would use for ``url``, worked out once per process and
    environment: {"proxy": URL or None, "ca_certs": a file or directory, or None}.

    As requests reads them: the ``*_proxy`` variables with ``no_proxy`` (its own matching, CIDR
    blocks included: requests.utils works it out, imported only when such a variable is set),
    and the CA bundle of REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, else certifi's. The answer is
    kept under exactly those values, so a changed environment is read again, and the same one
    costs a dictionary lookup instead of a scan and a no_proxy match per integration.
    """
    key = (url,) + tuple(sorted((name, value) for name, value in os.environ.items()
                                if name.lower().endswith("_proxy") or name in _ALSO_READ))
    settings = _ENVIRONMENT.get(key)
    if settings is None:
        settings = {"proxy": _environment_proxy(url, key[1:]), "ca_certs": _ca_bundle()}
        _ENVIRONMENT[key] = settings
    return dict(settings)


def _environment_proxy(url, variables):
    if not any(name.lower().endswith("_proxy") and name.lower() != "no_proxy" and value
               for name, value in variables):
        return None
    # The package, not requests.utils alone: pipelines build their clients in threads, and a thread
    # importing requests.utils while another imports requests meets a half-made module.
    utils = importlib.import_module("requests").utils
    return utils.select_proxy(url, utils.get_environ_proxies(url))


def _ca_bundle():
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        return bundle
    try:
        return importlib.import_module("certifi").where()
    except ImportError:  # the system's store, as urllib3 has it
        return None


_POOLS = {}
_POOLS_LOCK = threading.Lock()
POOL_SIZE = 64


def retry_policy(retries, backoff_factor):
    """What urllib3 retries, and how often: a template it copies per request."""
    return capped_retry()(
        total=retries, connect=retries, read=retries, status=retries, other=0,
        status_forcelist=RETRY_STATUSES, allowed_methods=None,
        respect_retry_after_header=True, backoff_factor=backoff_factor,
        raise_on_status=False, raise_on_redirect=False)


def shared_pool(proxy, ca_certs, retries, backoff_factor):
    """One urllib3 PoolManager (a ProxyManager through a proxy) per proxy, CA bundle and retry
    policy, for the whole process.

    The orchestrator runs many integrations of the same provider in threads; sharing the pools
    lets them reuse each other's keep-alive connections instead of each opening its own.
    urllib3's pools are thread-safe.
    """
    key = (proxy, ca_certs, retries, backoff_factor)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = _new_pool(proxy, ca_certs, retry_policy(retries, backoff_factor))
        return pool


def _new_pool(proxy, ca_certs, retry):
    urllib3 = _urllib3()
    options = {"num_pools": 16, "maxsize": POOL_SIZE, "retries": retry}
    if ca_certs:
        options["cert_reqs"] = "CERT_REQUIRED"
        options["ca_cert_dir" if os.path.isdir(ca_certs) else "ca_certs"] = ca_certs
    if not proxy:
        return urllib3.PoolManager(**options)
    if proxy.lower().startswith("socks"):
        socks = importlib.import_module("urllib3.contrib.socks")  # needs PySocks, as requests' SOCKS support does
        return socks.SOCKSProxyManager(proxy, **options)
    parts = urlsplit(proxy)
    if parts.username:  # credentials in the proxy's URL go in Proxy-Authorization, as requests sends them
        options["proxy_headers"] = urllib3.util.make_headers(
            proxy_basic_auth="%s:%s" % (unquote(parts.username), unquote(parts.password or "")))
        proxy = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return urllib3.ProxyManager(proxy, **options)


_ADAPTERS = {}


def shared_adapter(retries, backoff_factor):
    """A requests adapter with the same retry policy, one per policy for the process: for
    python-ovh's requests.Session, which we do not drive ourselves."""
    key = (retries, backoff_factor)
    with _POOLS_LOCK:
        adapter = _ADAPTERS.get(key)
        if adapter is None:
            adapters = importlib.import_module("requests.adapters")
            adapter = adapters.HTTPAdapter(max_retries=retry_policy(retries, backoff_factor),
                                           pool_connections=16, pool_maxsize=POOL_SIZE)
            _ADAPTERS[key] = adapter
        return adapter


def attempts_made(response):
    """How many times urllib3 sent this request (its Retry history travels with the answer; a
    requests Response, python-ovh's, has it on its raw urllib3 answer)."""
    retries = getattr(response, "retries", None) or getattr(getattr(response, "raw", None), "retries", None)
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
    """The innermost cause of a urllib3 (or requests) exception, without the URL noise."""
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
