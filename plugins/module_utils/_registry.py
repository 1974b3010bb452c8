# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Provider name -> class, imported the first time an inventory names it.

A run imports only the providers its inventory uses: Ansible's collection loader compiles a
collection's Python on every run (it keeps no bytecode), and compiling the providers an
inventory does not use cost every run about 35 ms on a 2-core machine, an eighth of what an
8-integration incident adds to a one-task playbook (issue 18).

Ansible's module packer (AnsiballZ) ships a module_util only if it sees a static import of it,
so the ``orchestrate`` module, which runs on a remote state host, imports every provider itself
(plugins/modules/orchestrate.py); tests/pytest/remote/test_packaging.py checks that each one is
shipped there.
"""

from __future__ import annotations

import importlib

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError

# name (= the inventory's scrubbing_provider = the module's name = providers/<name>.py) -> its class.
# A new provider: one line here and one import in plugins/modules/orchestrate.py.
_CLASS_NAMES = {
    "cloudflare_magic_transit": "CloudflareMagicTransit",
    "cloudflare_under_attack": "CloudflareUnderAttack",
    "ovh_mitigation": "OvhMitigation",
    "hetzner_firewall": "HetznerFirewall",
    "aws_shield": "AwsShield",
    "digitalocean_firewall": "DigitalOceanFirewall",
    "vultr_firewall": "VultrFirewall",
    "linode_firewall": "LinodeFirewall",
    "bgp_blackhole": "BgpBlackhole",
    "bgp_flowspec": "BgpFlowspec",
    "local_firewall": "LocalFirewall",
}
PROVIDER_NAMES = tuple(sorted(_CLASS_NAMES))


def provider_class(name):
    class_name = _CLASS_NAMES.get(name) if isinstance(name, str) else None
    if class_name is None:
        raise InputError("scrubbing_provider", "unknown provider %r" % (name,),
                         hint="Use one of: %s" % ", ".join(PROVIDER_NAMES))
    module = importlib.import_module("%s.providers.%s" % (__name__.rpartition(".")[0], name))
    return getattr(module, class_name)
