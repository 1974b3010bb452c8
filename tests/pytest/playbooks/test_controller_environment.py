"""What the controller's environment may change in the providers' calls, and what it may not.

The credentials the inventory gives are the ones sent: a ~/.netrc on the controller naming the
provider's host must not replace them.

requests looks every request without auth of its own up in ~/.netrc ($NETRC) and, on a match,
sends Basic credentials in place of an ``Authorization: Bearer`` header: every token-based
provider would answer 401 during an incident on a controller that keeps a netrc for its API
hosts (curl users do).

The proxy settings (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) do apply: a controller that reaches the
providers through a proxy keeps working.
"""

from __future__ import annotations

import http.client
import http.server
import threading
import urllib.parse

from conftest import read_ledger, run_playbook

BEARER_INTEGRATIONS = ("cf-magic-transit", "cf-under-attack", "do-web-firewall", "vultr-web-group",
                       "linode-web-firewall")


def test_a_netrc_naming_the_provider_host_does_not_replace_the_token(sandbox, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password netrc-password-not-a-token\n", encoding="utf-8")
    netrc.chmod(0o600)
    ledger = tmp_path / "ledger.json"
    proc = run_playbook("incident", sandbox, ledger, {"incident": {"id": "N1", "status": "started"}},
                        env={"NETRC": str(netrc), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.output[-4000:]
    records = read_ledger(ledger)["integrations"]
    for name in BEARER_INTEGRATIONS:
        assert records[name]["active"], (name, proc.output[-4000:])
    assert "netrc-password-not-a-token" not in proc.output
    assert not [r for r in sandbox.requests() if r.get("status") == 401], "a provider refused the credentials"


class RecordingProxy:
    """A forward HTTP proxy on 127.0.0.1 that relays every request and notes its URL."""

    def __init__(self):
        seen = self.seen = []

        class Relay(http.server.BaseHTTPRequestHandler):
            def _relay(self):
                seen.append((self.command, self.path))
                target = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
                path = target.path + ("?" + target.query if target.query else "")
                upstream.request(self.command, path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_controllers_proxy_settings_apply_and_no_proxy_is_honoured(sandbox, tmp_path):
    """HTTP_PROXY / NO_PROXY as the controller sets them (read once per client, not per call)."""
    proxy = RecordingProxy()
    try:
        ledger = tmp_path / "ledger.json"
        proc = run_playbook("incident", sandbox, ledger, {"incident": {"id": "P1", "status": "started"}},
                            env={"HTTP_PROXY": proxy.url, "http_proxy": proxy.url, "NO_PROXY": "", "no_proxy": ""})
        assert proc.returncode == 0, proc.output[-4000:]
        relayed = [url for _method, url in proxy.seen]
        for name, path in (("cf-magic-transit", "/cloudflare/"), ("do-web-firewall", "/digitalocean/"),
                           ("vultr-web-group", "/vultr/"), ("linode-web-firewall", "/linode/"),
                           ("hetzner-robot", "/hetzner/")):
            assert any(path in url for url in relayed), (name, "not sent through HTTP_PROXY", relayed[:5])
            assert read_ledger(ledger)["integrations"][name]["active"], name

        proxy.seen.clear()
        ledger = tmp_path / "ledger-2.json"
        proc = run_playbook("incident", sandbox, ledger, {"incident": {"id": "P2", "status": "started"}},
                            env={"HTTP_PROXY": proxy.url, "http_proxy": proxy.url,
                                 "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
        assert proc.returncode == 0, proc.output[-4000:]
        assert not [url for _method, url in proxy.seen if "/cloudflare/" in url], "NO_PROXY was not honoured"
    finally:
        proxy.stop()
