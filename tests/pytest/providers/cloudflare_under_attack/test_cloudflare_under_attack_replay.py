# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloudflare Under Attack against responses recorded from, or published for, the real API
(``/work/shared/replay``; none was written here), served verbatim by the sandbox on 127.0.0.1:
``read()``, ``is_active()``, ``snapshot()``, the Test and an activation must read them right.
Then property-based: settings generated from Cloudflare's OpenAPI schema never break the client.
"""

from __future__ import annotations

from hypothesis import given

from ddos_sandbox.providers.cloudflare import ZONE
from providers.replay_support import (EXAMPLE, Cloud, answered, cloud_replay_tests, cloudflare_client, fixtures_of,
                                      response_schema, schema_strategy, survives)

from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_under_attack import (
    CloudflareUnderAttack)

CLOUD = Cloud(CloudflareUnderAttack, dict(api_token="sandbox-cf-token-rw"), "cloudflare", strip="/client/v4")
FIXTURES = fixtures_of("cloudflare_under_attack")

# What each fixture must read as: (fields of read()'s state, is_active, the writes an activation sends).
EXPECTED = {
    "cf-security-level-real-zone": (dict(zone_id="023e105f4ecef8ad9ca31a8372d0c353", security_level="medium",
                                         editable=True, modified_on="2022-06-09T18:02:22.735012Z"), False,
                                    [("PATCH", "/zones/023e105f4ecef8ad9ca31a8372d0c353/settings/security_level",
                                      {"id": "security_level", "value": "under_attack"})]),
}


(test_every_fixture_has_an_expectation, test_client_reads_the_fixture_right,
 test_activation_over_the_fixture) = cloud_replay_tests(CLOUD, FIXTURES, EXPECTED)


@EXAMPLE
@given(schema_strategy(response_schema("cloudflare.json", "/zones/{zone_id}/settings/{setting_id}")))
def test_under_attack_survives_every_setting_the_spec_allows(sandbox, body):
    answered(sandbox, "cloudflare", "/zones/%s/settings/security_level" % ZONE, body)
    provider = cloudflare_client(sandbox, CloudflareUnderAttack, zone_id=ZONE)
    state = survives(provider.read)
    if state is None:
        assert not isinstance(body.get("result"), dict) or body["result"].get("value") is None
        return
    assert state["security_level"] == body["result"]["value"]
    assert state["editable"] is body["result"].get("editable", True)
    provider.snapshot(state)
