# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup engine, as explicit steps with an undo log (docs/architecture.md, docs/durability.md §3):

    run.py        BackupEngine: the steps in order, the commit point, roll-back or warnings
    inventory.py  catalog, inventory, map, validate (reads only)
    claim.py      the fenced lease kept in the background, interrupted backups settled, the name claimed
    capture.py    pre-script, checkpoints, snapshots (journaled before and after)
    commit.py     the record written and read back: the commit point
    after.py      replication, retention, post-script, SnapInfo snapshot, release: warnings, never a deletion
    undo.py       undo of each journaled step, the roll-back, and the recovery of operation "backup"
    results.py    what a run returns

Importing this package registers the recovery of operation "backup" with journal.register_recovery.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.capture import SNAPSHOT_COMMENT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.claim import default_holder
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.run import CHECKPOINT_PREFIX, DEFAULT_LEASE_TTL, BackupEngine, SessionScope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.undo import UndoContext, recover_backup
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import register_recovery

register_recovery("backup", recover_backup)

__all__ = ["BackupEngine", "CHECKPOINT_PREFIX", "DEFAULT_LEASE_TTL", "SNAPSHOT_COMMENT", "UndoContext", "default_holder", "recover_backup", "SessionScope"]
