# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""What the two Cloudflare providers share: token auth, the v4 envelope, error hints."""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Provider
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import decode

API_URL = "https://api.cloudflare.com/client/v4"

TOKEN_OPTION = dict(type="str", required=True, no_log=True,
                    fallback=(env_fallback, ["CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"]))


def parse_error(response):
    """Cloudflare answers ``{"success": false, "errors": [{"code", "message"}]}``."""
    body = decode(response)
    if isinstance(body, dict) and body.get("errors"):
        first = body["errors"][0]
        messages = "; ".join(str(e.get("message", "")) for e in body["errors"])
        return first.get("code"), messages
    return None, (str(body)[:300] if body else "HTTP %s" % response.status_code)


class CloudflareProvider(Provider):
    """Base of the Cloudflare providers. Subclasses set ``write_permissions`` (the token
    permission names that allow the change) and may extend ``hint``."""

    default_api_url = API_URL
    write_permissions = ""
    read_permissions = ""
    wait_sleep = 5.0  # a 429 locks a token out for 5 minutes: poll gently

    def connect(self):
        return self.bearer_client(self.params["api_token"], parse_error)

    def call(self, method, path, body=None, **kw):
        """One API call; returns the envelope's ``result``."""
        data = self.http.request(method, path, json_body=body, **kw)
        if hasattr(data, "status_code"):  # an allowed non-2xx status, handled by the caller
            return data
        return data.get("result") if isinstance(data, dict) else data

    def hint(self, status, code, message, method, path):
        if status == 401 or (status in (400, 403) and code in (6003, 6111, 9106)):
            return ("The API token was rejected: set api_token (or CLOUDFLARE_API_TOKEN) to an API Token "
                    "created under My Profile > API Tokens, not the Global API Key")
        if status == 403 and code == 10000:
            return ("The API token lacks a permission: edit it under My Profile > API Tokens and grant %s"
                    % (self.write_permissions if method != "GET" else self.read_permissions))
        return ""
