#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_magic_transit
short_description: Advertise or withdraw a Cloudflare Magic Transit on-demand prefix
version_added: 0.1.0
description:
  - Diverts a BYOIP prefix through Cloudflare's scrubbing network by advertising it over BGP
    (O(state=active)), and withdraws it again (O(state=inactive)).
  - Uses the current on-demand call C(PATCH .../bgp/prefixes/{bgp_prefix_id}) with
    C(on_demand.advertised), discovering O(bgp_prefix_id) when it is not given. Accounts that
    still use the deprecated C(.../bgp/status) call set O(advertisement_api=bgp_status).
  - A prefix that was already advertised before the incident is never withdrawn by
    O(state=inactive) with the snapshot of that activation.
  - An always-on prefix (on-demand advertisement not enabled, so Cloudflare advertises it all the
    time and the API reports C(advertised) as null) is reported active; both states are then a
    no-op with a warning saying so, and no call is made.
  - When the BGP prefix has C(auto_advertise_withdraw) (called C(withdraw_if_no_route) in one SDK
    generation) on, Cloudflare advertises it only while the Magic routing table has a matching
    route; activation then warns that advertisement follows the routes, not only this call.
  - The API accepts the change at once, but BGP convergence takes minutes (Cloudflare documents
    2-7 minutes to advertise, about 15 to withdraw). O(wait) waits for the API to report the
    asked advertisement state, not for the Internet. The change's own answer reports it (the API
    has no in-progress state), so the prefix is read again only when that answer leaves it out.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.cloudflare
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.cloudflare
options:
  account_id:
    description:
      - The Cloudflare Account ID (32 hex characters), not a Zone ID.
      - Falls back to the E(CLOUDFLARE_ACCOUNT_ID) environment variable.
    type: str
    required: true
  prefix_id:
    description:
      - ID of the IP prefix (32 hex characters). The Test module
        M(ddos.scrubbing.cloudflare_magic_transit_info) lists the account's prefixes.
    type: str
    required: true
  bgp_prefix_id:
    description:
      - ID of the BGP prefix inside O(prefix_id) to advertise. Discovered when the prefix has
        exactly one.
    type: str
  advertisement_api:
    description:
      - V(bgp_prefixes) uses the current on-demand call; V(bgp_status) the deprecated legacy call.
    type: str
    choices: [bgp_prefixes, bgp_status]
    default: bgp_prefixes
seealso:
  - module: ddos.scrubbing.cloudflare_magic_transit_info
  - name: Setup guide
    description: docs/providers/cloudflare_magic_transit.md in this collection.
    link: https://developers.cloudflare.com/byoip/concepts/dynamic-advertisement/
"""

EXAMPLES = r"""
- name: Advertise the prefix during an attack
  ddos.scrubbing.cloudflare_magic_transit:
    api_token: "{{ vault_cloudflare_token }}"
    account_id: 0a1b2c3d4e5f60718293a4b5c6d7e8f9
    prefix_id: 1f2e3d4c5b6a79880716253443526170
    state: active
  register: divert

- name: Withdraw it again, keeping an always-on prefix advertised
  ddos.scrubbing.cloudflare_magic_transit:
    api_token: "{{ vault_cloudflare_token }}"
    account_id: 0a1b2c3d4e5f60718293a4b5c6d7e8f9
    prefix_id: 1f2e3d4c5b6a79880716253443526170
    state: inactive
    snapshot: "{{ divert.snapshot }}"
"""

RETURN = r"""
active:
  description: Whether the prefix is protected after the run (advertised, or always-on and approved).
  returned: success
  type: bool
  sample: true
before:
  description: The prefix's advertisement state before the run.
  returned: success
  type: dict
  sample: {"prefix_id": "1f2e3d4c5b6a79880716253443526170", "cidr": "203.0.113.0/24", "advertised": false,
           "bgp_prefix_id": "7c6b5a49382716051f2e3d4c5b6a7988", "on_demand_enabled": true, "always_on": false,
           "on_demand_locked": false, "bgp_signal": false, "advertised_modified_at": null, "approved": null,
           "auto_advertise_withdraw": false}
after:
  description: The state after the run (in check mode, the predicted state).
  returned: success
  type: dict
snapshot:
  description: What O(state=inactive) needs to put the prefix back as it was before activation.
  returned: success
  type: dict
  sample: {"advertised": false, "cidr": "203.0.113.0/24", "prefix_id": "1f2e3d4c5b6a79880716253443526170",
           "bgp_prefix_id": "7c6b5a49382716051f2e3d4c5b6a7988", "always_on": false}
api_calls:
  description: Number of HTTP calls sent to the provider.
  returned: always
  type: int
  sample: 2
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_magic_transit import (
    CloudflareMagicTransit)


def main():
    run_module(CloudflareMagicTransit)


if __name__ == "__main__":
    main()
