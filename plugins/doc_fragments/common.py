# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Provider modules: state, snapshot and waiting, plus the connection options. (ansible-test reads
    # fragments as plain literals, so the connection part is written out in both.)
    DOCUMENTATION = r"""
options:
  state:
    description:
      - V(active) switches the protection on; V(inactive) puts the provider back.
      - With V(inactive) and O(snapshot), the provider is restored exactly to what the snapshot
        recorded, so what was already on before the incident stays on.
    type: str
    choices: [active, inactive]
    default: active
  snapshot:
    description:
      - The RV(snapshot) a previous V(active) run returned.
      - With O(state=active) it is passed through unchanged, so re-running an activation never
        replaces the real pre-incident snapshot.
    type: dict
  wait:
    description:
      - Wait until the provider reports the change as applied; fail if it does not within
        O(wait_timeout).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the provider to report the change applied.
    type: int
    default: 300
  wait_sleep:
    description:
      - Seconds between two status reads while waiting. Defaults to a per-provider value gentle
        on the provider's rate limit.
    type: float
  api_url:
    description:
      - Base URL of the provider API. Defaults to the provider's real API.
      - Point it at the bundled sandbox (C(ddos-sandbox serve)) to rehearse or test.
      - Must be C(https://); plain C(http://) is accepted only for a loopback host (127.0.0.0/8,
        C(::1), C(localhost)), so credentials never cross a network in clear text.
      - A redirect (any HTTP 3xx) from it is never followed; the call fails naming the host the
        redirect pointed at, and nothing is sent there.
    type: str
  timeout:
    description: Seconds to wait for one HTTP answer (connect and read).
    type: int
    default: 30
  retries:
    description:
      - How many times a transient failure is retried (HTTP 429 honouring C(Retry-After), 5xx,
        connection resets, the provider's own rate-limit answer). HTTP 401 is never retried.
    type: int
    default: 4
"""

    # For *_info modules (the Test button): only the connection options.
    INFO = r"""
options:
  api_url:
    description:
      - Base URL of the provider API. Defaults to the provider's real API.
      - Point it at the bundled sandbox (C(ddos-sandbox serve)) to rehearse or test.
      - Must be C(https://); plain C(http://) is accepted only for a loopback host (127.0.0.0/8,
        C(::1), C(localhost)), so credentials never cross a network in clear text.
      - A redirect (any HTTP 3xx) from it is never followed; the call fails naming the host the
        redirect pointed at, and nothing is sent there.
    type: str
  timeout:
    description: Seconds to wait for one HTTP answer (connect and read).
    type: int
    default: 30
  retries:
    description:
      - How many times a transient failure is retried (HTTP 429 honouring C(Retry-After), 5xx,
        connection resets, the provider's own rate-limit answer). HTTP 401 is never retried.
    type: int
    default: 4
"""
