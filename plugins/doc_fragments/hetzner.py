# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Robot web-service credentials and the server, shared by hetzner_firewall and its Test module.
    DOCUMENTATION = r"""
options:
  robot_user:
    description:
      - Robot web-service user (starts with C(#ws+)), created in Robot under Settings, Web service and
        app settings. Not the Robot login, not Hetzner Cloud credentials.
      - Falls back to E(HETZNER_ROBOT_USER), then E(HROBOT_API_USER).
    type: str
    required: true
  robot_password:
    description:
      - Password of the web-service user. Falls back to E(HETZNER_ROBOT_PASSWORD), then E(HROBOT_API_PASSWORD).
    type: str
    required: true
  server_ip:
    description: The server's main IPv4 as shown in Robot (an IP address, checked before any call). One of O(server_ip) and O(server_number) is required.
    type: str
  server_number:
    description: The server number in Robot (preferred); a positive integer, checked before any call.
    type: int
"""
