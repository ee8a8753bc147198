# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore one VM (smhv_restore): resolve.py (which VM, which backup), plan.py (what to do; check mode stops there),
run.py (RestoreEngine: the journaled steps), undo.py (settling from the journal; the recovery of operation "restore"),
operation.py (the VM's lease, recovery first, the journal)."""

from __future__ import annotations

# Importing the package registers the recovery of operation "restore" (journal.register_recovery), for smhv_cleanup too.
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore import undo  # noqa: F401  pylint: disable=unused-import
