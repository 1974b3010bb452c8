# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Cloudflare "I'm Under Attack" mode: the zone's security_level setting.

Activation sets ``under_attack``; the snapshot keeps the level the zone had, and withdrawal
puts exactly that level back (a zone that was already under attack stays so). Withdrawal
without a snapshot needs ``restore_level`` – there is no safe guess of what the zone had.
"""

from __future__ import annotations

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding, Findings
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import HEX32, HOSTNAME
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers._cloudflare import (
    TOKEN_OPTION, CloudflareProvider)

LEVELS = ["off", "essentially_off", "low", "medium", "high", "under_attack"]
ATTACK = "under_attack"


class CloudflareUnderAttack(CloudflareProvider):
    name = "cloudflare_under_attack"
    title = "Cloudflare Under Attack Mode"
    write_permissions = "'Zone Settings Write' (Zone > Zone Settings > Edit) on this zone"
    read_permissions = "'Zone Settings Read' (Zone > Zone Settings > Read) on this zone"
    wait_sleep = 1.0  # the setting is synchronous; a re-read confirms it
    options = dict(
        api_token=TOKEN_OPTION,
        zone_id=dict(type="str"),
        zone_name=dict(type="str"),
        restore_level=dict(type="str", choices=LEVELS[:-1]),
    )
    required_one_of = [("zone_id", "zone_name")]
    shapes = dict(zone_id=HEX32, zone_name=HOSTNAME)
    identity = ("zone_id", "zone_name")
    mutually_exclusive = [("zone_id", "zone_name")]

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self._zone_id = params.get("zone_id")

    # -- the zone ------------------------------------------------------------------------------
    def zone_id(self):
        """The Zone ID, looked up by name once when only ``zone_name`` is given."""
        if self._zone_id is None:
            name = self.params["zone_name"]
            zones = self.call("GET", "/zones", params={"name": name}) or []
            if not zones:
                raise ProviderError(self.name, "no zone named %s is visible to this API token" % name,
                                    hint="Check the spelling (the apex domain, e.g. example.com) and that the token "
                                         "includes this zone under Zone Resources")
            self._zone_id = zones[0]["id"]
        return self._zone_id

    def hint(self, status, code, message, method, path):
        if (path or "").startswith("/zones/") and (code in (7003, 1001) or status == 404):
            return ("Check zone_id=%s: use the Zone ID from the zone's Overview page (right sidebar, API section), "
                    "or give zone_name instead" % self._zone_id)
        return super().hint(status, code, message, method, path)

    @property
    def _setting_path(self):
        return "/zones/%s/settings/security_level" % self.zone_id()

    # -- the contract -----------------------------------------------------------------------------
    def read(self):
        setting = self.call("GET", self._setting_path)
        if not isinstance(setting, dict) or not isinstance(setting.get("value"), str):
            # The envelope's result is optional in the spec: never read a level that is not there.
            raise ProviderError(self.name, "Cloudflare's answer for zone %s has no security level (result %s)"
                                % (self.zone_id(), _show(setting)),
                                hint="Run again; if it persists, check the zone in the dashboard")
        return dict(zone_id=self.zone_id(), security_level=setting.get("value"),
                    editable=bool(setting.get("editable", True)), modified_on=setting.get("modified_on"))

    def is_active(self, state):
        return bool(state and state.get("security_level") == ATTACK)

    def snapshot(self, state):
        return dict(zone_id=state["zone_id"], security_level=state["security_level"])

    def activation(self, state, snapshot):
        return self._wanted(state, ATTACK)

    def restoration(self, state, snapshot):
        if snapshot.get("zone_id") not in (None, state["zone_id"]):
            # Another zone's level would be a guess for this one: refuse before any write.
            raise ProviderError(self.name, "the snapshot was taken on zone %s, not on zone %s"
                                % (snapshot["zone_id"], state["zone_id"]),
                                hint="Pass the snapshot this integration's activation returned")
        level = snapshot.get("security_level")
        if level not in LEVELS:
            raise ProviderError(self.name, "the snapshot has no valid security_level (%r)" % (level,),
                                hint="Pass the snapshot the activation returned, or set restore_level")
        return self._wanted(state, level)

    def release(self, state):
        level = self.params.get("restore_level")
        if level is None:
            if not self.is_active(state):
                return dict(security_level=state["security_level"])  # nothing to undo
            raise ProviderError(self.name, "withdrawal without a snapshot does not know the level zone %s had "
                                "before the incident" % state["zone_id"],
                                hint="Pass the snapshot of the activation, or set restore_level (e.g. medium)")
        return self._wanted(state, level)

    def _wanted(self, state, level):
        if state["security_level"] != level and not state["editable"]:
            raise ProviderError(self.name, "the security level of zone %s cannot be changed (editable: false)"
                                % state["zone_id"], hint="The zone's plan does not allow it; nothing was sent")
        return dict(security_level=level)

    def apply(self, state, wanted):
        setting = self.call("PATCH", self._setting_path, {"id": "security_level", "value": wanted["security_level"]})
        return dict(state, security_level=setting.get("value"), modified_on=setting.get("modified_on"))

    # -- the Test button ----------------------------------------------------------------------------
    def test(self):
        findings = Findings()
        state = self.read()
        findings.state = state
        findings.append(Finding("token", True, "the API token can read zone %s%s" % (
            state["zone_id"], " (%s)" % self.params["zone_name"] if self.params.get("zone_name") else "")))
        findings.append(Finding("security_level", True, "the security level is %s now" % state["security_level"]))
        findings.append(Finding("editable", state["editable"], "the security level is %s" % (
            "editable" if state["editable"] else "NOT editable on this zone's plan: activation would fail")))
        findings.append(Finding("write", True, "write permission cannot be checked without a write; the token needs "
                                "%s, and Activate names it if it is missing" % self.write_permissions))
        return findings


def _show(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
