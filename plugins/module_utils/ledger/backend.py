# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Which ledger a run uses: PostgreSQL when a DSN is given, else the state file."""

from __future__ import annotations

from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import LOCK_TIMEOUT
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.file import FileLedger


def open_ledger(state_file, dsn=None, operation="run", lock_timeout=LOCK_TIMEOUT):
    """The ledger the playbooks use: PostgreSQL when a DSN is given, else the state file."""
    if dsn:
        from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.postgres import PostgresLedger

        return PostgresLedger(dsn, operation=operation, lock_timeout=lock_timeout)
    return FileLedger(state_file, operation=operation, lock_timeout=lock_timeout)
