# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mount and unmount a backup's LUNs (smhv_mount): plan.py (clones, folders, where each file is), run.py (MountEngine),
record.py (the mount records that own the clones), undo.py (settling from the journal; recovery of "mount", "unmount")."""

from __future__ import annotations

# Importing the package registers the recoveries of operations "mount" and "unmount" (journal.register_recovery).
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount import undo  # noqa: F401  pylint: disable=unused-import
