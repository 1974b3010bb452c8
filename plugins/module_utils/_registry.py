# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Provider name -> class, imported lazily (boto3 costs ~0.3 s to import; only pay when used)."""

from __future__ import annotations

import importlib

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError

_BASE = "ansible_collections.ddos.scrubbing.plugins.module_utils.providers."

# name (= module name, = the inventory's scrubbing_provider) -> "file:Class"
PROVIDERS = {
    "cloudflare_magic_transit": "cloudflare_magic_transit:CloudflareMagicTransit",
    "cloudflare_under_attack": "cloudflare_under_attack:CloudflareUnderAttack",
    "ovh_mitigation": "ovh_mitigation:OvhMitigation",
    "hetzner_firewall": "hetzner_firewall:HetznerFirewall",
    "aws_shield": "aws_shield:AwsShield",
    "digitalocean_firewall": "digitalocean_firewall:DigitalOceanFirewall",
    "vultr_firewall": "vultr_firewall:VultrFirewall",
    "linode_firewall": "linode_firewall:LinodeFirewall",
}


def provider_class(name):
    target = PROVIDERS.get(name)
    if target is None:
        raise InputError("scrubbing_provider", "unknown provider %r" % (name,),
                         hint="Use one of: %s" % ", ".join(sorted(PROVIDERS)))
    module, cls = target.split(":")
    return getattr(importlib.import_module(_BASE + module), cls)
