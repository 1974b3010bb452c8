# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST-ONLY syslog of the state host, loaded through PYTHONPATH by the interpreter the test
gives the state host (never part of the collection).

The test machines have no syslog daemon (no /dev/log), so what a module sends to syslog would be
dropped unseen. Here every ``syslog.syslog`` call is also appended to the file named by
``DDOS_SYSLOG_CAPTURE``, exactly as the daemon would have received it, and then passed on.
"""

from __future__ import annotations

import os
import syslog

_real_syslog = syslog.syslog


def _captured_syslog(*args):
    message = args[-1]
    with open(os.environ["DDOS_SYSLOG_CAPTURE"], "a", encoding="utf-8") as handle:
        handle.write("%s\n" % (message,))
    return _real_syslog(*args)


if os.environ.get("DDOS_SYSLOG_CAPTURE"):
    syslog.syslog = _captured_syslog
