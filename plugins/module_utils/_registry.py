# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Provider name -> class.

The imports are static on purpose: Ansible's module packer (AnsiballZ) ships a module_util
only if it sees an import of it, so a registry that imported providers by name at run time
shipped the ``orchestrate`` module to a remote state host without any provider. Importing
every provider is cheap (about 50 ms more than one, measured on a 2-core machine) because the
heavy clients are imported only when a provider connects: boto3 inside aws_shield, python-ovh
inside ovh_mitigation.
"""

from __future__ import annotations

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.aws_shield import AwsShield
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_blackhole import BgpBlackhole
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_flowspec import BgpFlowspec
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_magic_transit import (
    CloudflareMagicTransit)
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_under_attack import (
    CloudflareUnderAttack)
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.digitalocean_firewall import (
    DigitalOceanFirewall)
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.hetzner_firewall import HetznerFirewall
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.linode_firewall import LinodeFirewall
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.local_firewall import LocalFirewall
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.ovh_mitigation import OvhMitigation
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.vultr_firewall import VultrFirewall

# A new provider: one static import above and one entry below; tests/pytest/remote/test_packaging.py
# then checks that it is shipped.
_CLASSES = (
    CloudflareMagicTransit,
    CloudflareUnderAttack,
    OvhMitigation,
    HetznerFirewall,
    AwsShield,
    DigitalOceanFirewall,
    VultrFirewall,
    LinodeFirewall,
    BgpBlackhole,
    BgpFlowspec,
    LocalFirewall,
)

# name (= module name, = the inventory's scrubbing_provider) -> class
PROVIDERS = {cls.name: cls for cls in _CLASSES}


def provider_class(name):
    cls = PROVIDERS.get(name)
    if cls is None:
        raise InputError("scrubbing_provider", "unknown provider %r" % (name,),
                         hint="Use one of: %s" % ", ".join(sorted(PROVIDERS)))
    return cls
