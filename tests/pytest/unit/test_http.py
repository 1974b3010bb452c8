"""The shared HTTP layer on its own: retry bounds, Retry-After cap, non-429 rate limits,
401 never retried, connection errors, secret scrubbing."""

from __future__ import annotations

import time

import pytest
import urllib3.util.retry

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import MAX_RETRY_AFTER, BearerToken, HttpClient


def client(sandbox, **kw):
    kw.setdefault("retries", 2)
    kw.setdefault("backoff_factor", 0)
    return HttpClient("cloudflare_magic_transit", sandbox.api_url("cloudflare"),
                      headers={"Authorization": "Bearer sandbox-cf-token-rw"}, **kw)


class RecordingClock:
    """Stands in for the ``time`` module urllib3's Retry sleeps with: records each sleep."""

    def __init__(self):
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)

    @staticmethod
    def time():
        return time.time()


@pytest.mark.parametrize("retry_after, slept", [("300", MAX_RETRY_AFTER), ("2", 2.0)])
def test_retry_after_sleep_is_capped(sandbox, monkeypatch, retry_after, slept):
    """The wait that really happens between a 429 and its retry: a 5-minute Retry-After is
    cut to MAX_RETRY_AFTER, a short one is honoured as given."""
    clock = RecordingClock()
    monkeypatch.setattr(urllib3.util.retry, "time", clock)
    sandbox.add_fault(provider="cloudflare", status=429, headers={"Retry-After": retry_after}, count=1)
    assert client(sandbox, retries=1).get("/zones")["success"]
    assert [e["status"] for e in sandbox.requests()] == [429, 200]
    assert clock.sleeps == [slept]
    assert MAX_RETRY_AFTER <= 30, "a 5-minute lockout must not park a run during an attack"


def test_401_is_never_retried(sandbox):
    http = HttpClient("cloudflare_magic_transit", sandbox.api_url("cloudflare"),
                      headers={"Authorization": "Bearer nope-nope"}, retries=4, backoff_factor=0)
    with pytest.raises(ProviderError) as err:
        http.get("/zones")
    assert err.value.status == 401
    assert len(sandbox.requests()) == 1


def test_5xx_retries_are_bounded(sandbox):
    sandbox.add_fault(provider="cloudflare", status=503, count=10)
    with pytest.raises(ProviderError, match=r"HTTP 503.*\(after 3 attempts\)"):
        client(sandbox).get("/zones")
    assert len(sandbox.requests()) == 3


def test_provider_rate_limit_answer_is_retried_then_bounded(sandbox):
    rate_limited = {"error": {"code": "RATE_LIMIT_EXCEEDED", "interval": 1}}
    sandbox.add_fault(provider="cloudflare", status=403, body=rate_limited, count=1)
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


def test_retry_after_beyond_the_run_deadline_fails_at_once(sandbox):
    from ansible_collections.ddos.scrubbing.plugins.module_utils import _http

    sandbox.add_fault(provider="cloudflare", status=429, headers={"Retry-After": "600"}, count=-1)
    _http.set_deadline(time.monotonic() + 60)
    try:
        with pytest.raises(ProviderError, match=r"retry after 600 s, more than the \d+ s left.*Retry after 20"):
            client(sandbox).get("/zones")
    finally:
        _http.set_deadline(None)
    assert len(sandbox.requests()) == 1, "not retried: the answer would come after the deadline"


@pytest.fixture
def other_host():
    from ddos_sandbox.core import OtherHost

    other = OtherHost()
    yield other
    other.stop()


@pytest.mark.parametrize("status, method", [(301, "GET"), (302, "PUT"), (303, "POST"), (307, "PUT"), (308, "DELETE"),
                                            (307, "GET")])
def test_a_redirect_is_an_error_naming_its_host_and_nothing_reaches_it(sandbox, other_host, status, method):
    """A 307/308 would repeat the body and the token at the Location; a 302/303 would turn the
    write into a GET whose 200 looks like success; a redirected GET reads someone else's state."""
    sandbox.add_fault(provider="cloudflare", status=status, redirect=other_host.url, count=-1)
    http = client(sandbox)
    with pytest.raises(ProviderError) as err:
        http.request(method, "/zones", json_body={"value": "under_attack"} if method != "GET" else None)
    message = str(err.value)
    assert err.value.status == status
    assert "redirect to http://%s" % other_host.netloc in message, message
    assert "not followed" in message and "sandbox-cf-token-rw" not in message
    assert other_host.requests == [], "the redirect was followed"
    assert [e["status"] for e in sandbox.requests()] == [status], "a redirect is not retried either"


def test_a_redirect_of_a_session_we_do_not_build_is_refused_too(sandbox, other_host):
    """python-ovh drives its own requests.Session: refuse_redirects makes it fail the same way."""
    import requests

    from ansible_collections.ddos.scrubbing.plugins.module_utils._http import refuse_redirects

    sandbox.add_fault(provider="ovh", status=307, redirect=other_host.url, count=-1)
    session = requests.Session()
    refuse_redirects(session, "ovh_mitigation", sandbox.api_url("ovh"), secrets=["sandbox-ovh-app-secret"])
    with pytest.raises(ProviderError) as err:
        session.put(sandbox.api_url("ovh") + "/ip/x", json={"secret": "sandbox-ovh-app-secret"})
    assert "redirect to http://%s" % other_host.netloc in str(err.value) and err.value.status == 307
    assert other_host.requests == []


def test_the_location_host_is_named_without_its_path_or_credentials():
    from ansible_collections.ddos.scrubbing.plugins.module_utils._http import redirect_message

    message = redirect_message("https://user:pw@evil.example:8443/steal?token=abc", "https://api.example.com/v4")
    assert "https://evil.example:8443" in message and "https://api.example.com" in message
    assert "pw" not in message and "token" not in message and "steal" not in message
    assert "[2001:db8::1]:8443" in redirect_message("http://[2001:db8::1]:8443/x", "https://api.example.com")
    relative = redirect_message("/elsewhere", "https://api.example.com/v4", "https://api.example.com/v4/zones")
    assert "https://api.example.com" in relative and "without a Location" in redirect_message(None, "https://a.b")


def test_the_environment_is_read_again_when_it_changes(monkeypatch):
    """Clients built one after the other in one process (an orchestrate run's integrations) take
    the proxies and CA bundle the environment has at that moment, kept or not."""
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/first-bundle.pem")
    first = HttpClient("vultr_firewall", "https://api.vultr.test/v2")
    assert first.proxy == "http://127.0.0.1:3128"
    assert first.ca_certs == "/etc/first-bundle.pem"
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.2:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/second-bundle.pem")
    second = HttpClient("vultr_firewall", "https://api.vultr.test/v2")
    assert second.proxy == "http://127.0.0.2:3128"
    assert second.ca_certs == "/etc/second-bundle.pem"
    monkeypatch.setenv("NO_PROXY", "api.vultr.test")
    third = HttpClient("vultr_firewall", "https://api.vultr.test/v2")
    assert not third.proxy
    monkeypatch.setenv("NO_PROXY", "10.0.0.0/8")  # requests' own no_proxy matching: CIDR blocks too
    assert not HttpClient("vultr_firewall", "https://10.1.2.3/v2").proxy
    assert HttpClient("vultr_firewall", "https://11.1.2.3/v2").proxy == "http://127.0.0.2:3128"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    import certifi

    assert HttpClient("vultr_firewall", "https://api.vultr.test/v2").ca_certs == certifi.where()


def test_the_environment_is_worked_out_once_for_a_thousand_clients(monkeypatch):
    """requests' reading of the proxy environment (every *_proxy variable, no_proxy matching)
    costs 0.17 ms; a run of 1,000 integrations of one provider pays it once, not per integration."""
    import requests.utils

    calls = []
    real = requests.utils.get_environ_proxies

    def counted(url, *args, **kwargs):
        calls.append(url)
        return real(url, *args, **kwargs)

    monkeypatch.setattr(requests.utils, "get_environ_proxies", counted)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3129")  # an environment no earlier test used
    clients = [HttpClient("linode_firewall", "https://api.linode.test/v4") for _client in range(1000)]
    assert len(clients) == 1000 and calls == ["https://api.linode.test/v4"]
    assert len({id(c.pool) for c in clients}) == 1, "the clients share one pool"


def _self_signed(directory):
    """A certificate for 127.0.0.1 that no public CA signed, and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ddos-scrubbing test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_api(tmp_path):
    """An HTTPS API on 127.0.0.1 with a self-signed certificate: (base URL, the certificate's file)."""
    import http.server
    import ssl
    import threading

    cert_file, key_file = _self_signed(tmp_path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = b'{"success": true, "auth": "%s"}' % self.headers.get("Authorization", "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "https://127.0.0.1:%d" % server.server_address[1], cert_file
    server.shutdown()
    server.server_close()


def test_https_trusts_the_ca_bundle_the_environment_names_and_nothing_else(tls_api, monkeypatch):
    """REQUESTS_CA_BUNDLE (as requests reads it) decides whom the client trusts: the API's own
    certificate is accepted when the bundle holds it, refused before any request otherwise."""
    url, cert_file = tls_api
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert_file)
    http = HttpClient("vultr_firewall", url, auth=BearerToken("tls-test-token"), retries=0)
    assert http.get("/v2/firewalls") == {"success": True, "auth": "Bearer tls-test-token"}
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # public CAs only: ours is not among them
    with pytest.raises(ProviderError) as err:
        HttpClient("vultr_firewall", url, auth=BearerToken("tls-test-token"), retries=0).get("/v2/firewalls")
    assert "cannot connect to %s" % url in str(err.value) and "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    assert "tls-test-token" not in str(err.value)
