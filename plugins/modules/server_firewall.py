#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: server_firewall
short_description: Write a protected server's own firewall as a scrubbing run decided, over the server's connection
version_added: 0.3.0
description:
  - Runs on each host of the group C(scrubbing_servers) after the C(ddos.scrubbing.orchestrate) task, which decided
    whether the server's nftables table must exist and for which of its addresses, and recorded that intent in the
    ledger.
  - Runs M(ddos.scrubbing.local_firewall) on the server with its C(scrubbing_local_firewall) options and the run's
    decision (for the Test button, M(ddos.scrubbing.local_firewall_info)). The result is the server's own line in the
    PLAY RECAP; the role records it in the ledger with the C(record) operation.
  - Skipped on a host the run made no decision for.
  - The role C(ddos.scrubbing.scrubbing) uses it; you need it only when you call C(ddos.scrubbing.orchestrate) yourself.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.attributes
attributes:
  check_mode:
    support: full
    details: M(ddos.scrubbing.local_firewall) runs in check mode and reports what it would write.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  report_var:
    description: The name of the variable the C(ddos.scrubbing.orchestrate) task's result was registered as.
    type: str
    default: scrubbing_result
seealso:
  - module: ddos.scrubbing.local_firewall
"""

EXAMPLES = r"""
- name: The protected servers' own firewalls
  ddos.scrubbing.server_firewall:
  when: inventory_hostname in groups['scrubbing_servers'] | default([])
  register: scrubbing_server_result
"""

RETURN = r"""
active:
  description: Whether the server's table exists after the run.
  returned: when the module ran
  type: bool
targets:
  description: The server's addresses the table protects.
  returned: when the module ran
  type: list
  elements: str
"""
