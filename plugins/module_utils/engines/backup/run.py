# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup engine (DESIGN §5): one dataset's VMs in one scope, captured by one snapshot per volume.

    engine = BackupEngine(scope, storage, catalog, snapinfo_step)
    result = engine.run("prod", BackupOptions.from_policy(policy), check_mode=False)

Steps, each timed and named in errors (the file that does it in brackets):

    catalog         the dataset, the scope's lease and the dataset's VM index, in one read [inventory]
    credentials     checkpoint method: every storage system's identity, so a refused account fails before anything is
                    touched (the first map does it for the other methods and in check mode) [inventory]
    inventory       vm_inventory of the dataset's VMs on every node, one call per node, in parallel [inventory]
    map             their files -> LUN serials -> ONTAP LUNs and volumes (one batched lookup per cluster) [inventory]
    validate        the dataset rules again, VM states (saved/off need allow_saved_state, migrating VMs
                    are left out alone), the method, the snapshot limit of every volume [inventory]
    lease           the scope's lease, kept by a LeaseKeeper; interrupted backups of the scope settled; the
                    backup's name claimed by its journal, backup~<name>, created create-only [claim]
    pre_script      on every member host (or the one named) [capture]
    checkpoint      checkpoint method: backup_checkpoint on every node, in parallel, one call each: the
                    inventory of the dataset's VMs there and production-only checkpoints of the running ones
                    (the agent applies the saved-state/off/migration policy), then map and validate again [capture]
    snapshot        one snapshot per volume, taken together (a consistency-group snapshot where ONTAP can);
                    vss_provider: the VSS backup on the coordinator, then its snapshot pair renamed [capture]
    release_checkpoints   the checkpoints removed (Hyper-V merges them) [capture]
    record          the backup record, fenced, and read back if its answer was lost: the COMMIT POINT [commit]
    replication     SnapMirror / SnapVault updates, on the destination clusters [after]
    retention       expired backups of the dataset and retention tag deleted (never the last good one;
                    busy snapshots kept, with a warning, for the next run), fenced by the lease [after]
    post_script     with $VMSnapshot, $SnapInfoName and $SnapInfoSnapshot [after]
    snapinfo        the SnapInfo snapshot (smhv_snapinfo_<scope>_<stamp>) [after]
    release         the lease released [after]

The checkpoint method's inventory is the checkpoint call itself (a host's round trips are what a
backup costs there: PSRP open 2, backup_checkpoint 2, checkpoint_remove 2, close 1), so its map and
validate steps run after the lease and with the checkpoints made; a rule that fails then fails the
backup like any later step. In check mode, for crash-consistent and VSS provider backups, and when a
pre-script must run on the member hosts first, inventory, map and validate run before the lease, as plain reads.

Every side effect from the pre-script on is journaled first (capture.py). A failure before the commit point is
rolled back from the journal's undo log (undo.py): checkpoints removed, this backup's snapshots deleted (by the names
it claimed), the failed attempt recorded, the journal closed, the lease released; an undo that cannot finish leaves
the journal open, and the next backup of the scope finishes it. The error keeps the failure's code, names the step,
and says in `details.undo` what was undone and what was left. After the commit point nothing deletes the backup: the
later steps' failures are warnings (after.py). Failures before the lease change nothing and record nothing.

A cluster is one scope, coordinated from the node owning the core cluster group (SMHV's distributed
backup): checkpoints are taken on each VM's owner node, and a CSV volume gets one snapshot whatever
the number of nodes running VMs on it.
"""

from __future__ import annotations

import datetime
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import choose_method, names_of
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.after import AfterSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.capture import CaptureSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.claim import ClaimSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.commit import CommitSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.inventory import InventorySteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.results import Results
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.undo import RollBack
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.steps import StepFailed, Steps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import backup_name, snapinfo_snapshot_name, utcnow

# Renewed every minute by the LeaseKeeper (heartbeat_seconds), so a long step never outlives it; a holder that died
# frees the scope after at most this long (at once when it ran on the same controller).
DEFAULT_LEASE_TTL = datetime.timedelta(minutes=5)
CHECKPOINT_PREFIX = "smhv_"


class SessionScope:
    """The engine's view of a ScopeSession: the scope, its coordinator and a client per node."""

    def __init__(self, session):
        self.session = session
        self.name = session.name
        self.kind = session.kind
        self.coordinator = session.owner
        self.coordinator_facts = session.facts

    def node_clients(self):
        # The coordinator under its node name (hyperv_host may have named the cluster).
        clients = {self.session.owner_node or self.session.owner.name: self.session.owner}
        clients.update(self.session.other_nodes())
        return clients


class BackupEngine(InventorySteps, ClaimSteps, CaptureSteps, CommitSteps, AfterSteps, RollBack, Results):
    """One backup of a dataset in one scope. `scope` provides: `name`, `kind` (cluster|standalone),
    `coordinator` (a HostClient), `coordinator_facts` (its host_facts) and `node_clients()` ({node name:
    HostClient}, the coordinator included). `snapinfo_step(when, mirror, check_mode)` takes the SnapInfo
    snapshot and returns its name; its optional attribute `prepare()` does the step's reads ahead (the engine
    calls it while ONTAP takes the backup's snapshot). `lease_catalog`: the Catalog the LeaseKeeper renews the
    lease through, over its own host connection (default: `catalog`). `fail_on_replication_error`: a failed
    replication fails the run (the backup is kept)."""

    def __init__(self, scope, storage, catalog, snapinfo_step, clock=utcnow, monotonic=time.monotonic,
                 lease_ttl=DEFAULT_LEASE_TTL, lease_wait=0.0, lease_poll=2.0, holder=None, sleep=time.sleep, lease_catalog=None,
                 fail_on_replication_error=False):
        self.scope = scope
        self.storage = storage
        self.catalog = catalog
        self.lease_catalog = lease_catalog or catalog
        self.snapinfo_step = snapinfo_step
        self.clock = clock
        self.monotonic = monotonic
        self.lease_ttl = lease_ttl
        self.lease_wait = lease_wait
        self.lease_poll = lease_poll
        self.holder = holder
        self.sleep = sleep
        self.fail_on_replication_error = fail_on_replication_error
        # state of one run
        self.steps = Steps(monotonic)
        self.warnings, self.after_failures = [], []  # after_failures: {step, code, message} after the commit point
        self.plans, self.volumes, self.volume_snapshots, self.luns = [], {}, {}, {}
        self.inventory, self.agent_outcomes, self.checkpointed = [], {}, set()
        self.backup_volumes = []
        self.lease_read = self.index_read = None  # read with the dataset (Catalog.read_for_backup)
        self.keeper = self.journal = None  # the LeaseKeeper and the OperationJournal, from step lease on
        self.listed = ()  # the dataset's backups, listed when the name was claimed (record, then retention)
        self.recovered = []
        # Catalog reads done while ONTAP takes the snapshot (the coordinator is idle then), and node connections
        # opened while the coordinator takes the lease: one background thread each, waited for before run() ends.
        self.background = None
        self.prefetched = self.catalog_reads = None
        self.record, self.committed = None, False
        self.checkpoint_hosts = {}  # node -> [vm ids] that may have this backup's checkpoint
        self.checkpoints_released = False
        self.checkpoint_window = {}  # node -> [created at, removed at] (monotonic)
        self.taken = []  # SnapshotInfo of this backup
        self.vss_before = {}
        self.consistency_groups = ()
        self.replication, self.retention = [], {"deleted": [], "skipped_busy": [], "failed": [], "kept": []}
        self.scripts = {}
        self.snapinfo_snapshot = None

    def run(self, dataset, options, check_mode=False):
        """Back up `dataset` with `options` (backup_plan.BackupOptions); the module's result dict."""
        self.started = self.monotonic()
        self.dataset = dataset
        self.options = options
        self._stamp(self.clock().replace(microsecond=0))
        try:
            self.members = self.steps.run("catalog", self._members)
            self.method = self.steps.run("method", choose_method, options, self.scope.coordinator_facts)
            self.snapshot_names = names_of(self.name, self.method)
            if check_mode or not self._inventory_in_checkpoint():
                self.steps.run("inventory", self._inventory)
                self.steps.run("map", self._map)
                self.steps.run("validate", self._validate)
            else:
                self.steps.run("credentials", self._check_credentials)
        except StepFailed as failed:
            raise self._error(failed, undo=None) from None
        if check_mode:
            return self._planned()
        self.background = ThreadPoolExecutor(max_workers=2)
        try:
            return self._run_leased()
        finally:
            self.background.shutdown(wait=True)
            if self.keeper is not None:  # an error no step caught (a bug): never leave the renewals running
                self.keeper.stop()

    def _run_leased(self):
        try:
            self.steps.run("lease", self._take_lease)
        except StepFailed as failed:
            undo = None
            if self.keeper is not None:  # held, but the name could not be claimed
                undo = {"undone": [], "left_behind": []}
                self._release_after_failure(undo["undone"], undo["left_behind"])
            raise self._error(failed, undo) from None
        try:
            for name, function in self._steps_to_commit():
                self._lease_check()
                self.steps.run(name, function)
        except StepFailed as failed:
            undo = self._roll_back(failed)
            raise self._error(failed, undo) from None
        self._after_commit()
        result = self._result()
        if self.fail_on_replication_error and any(f["step"] == "replication" for f in self.after_failures):
            raise self._kept_but_failed(result)
        return result

    def _inventory_in_checkpoint(self):
        """Whether the checkpoint call inventories (checkpoint method): not when a pre-script must first run on
        the member hosts, which only an inventory names; the checkpoint call then inventories again."""
        script = self.options.pre_script
        return self.method == "checkpoint" and not (script is not None and not script.host)

    def _steps_to_commit(self):
        """The steps from the lease to the commit point."""
        steps = [("pre_script", self._pre_script)]
        if self.method == "checkpoint":
            steps += [("checkpoint", self._checkpoint), ("map", self._map), ("validate", self._validate), ("snapshot", self._snapshot),
                      ("release_checkpoints", self._release_checkpoints_step)]
        elif self.method == "vss_provider":
            steps += [("snapshot", self._vss_snapshot)]
        else:
            steps += [("snapshot", self._snapshot)]
        steps.append(("record", self._record))
        return steps

    def _lease_check(self):
        """Before each step up to the commit: a renewal that found the lease lost stops the run (as step lease)."""
        try:
            self.keeper.check()
        except SmhvError as error:
            raise StepFailed("lease", error) from None

    def _release_checkpoints_step(self):
        self._release_checkpoints()
        self.checkpoints_released = True

    def _stamp(self, when):
        self.when = when
        self.name = backup_name(self.dataset, when)
        self.checkpoint_name = CHECKPOINT_PREFIX + self.name
        self.snapinfo_name = snapinfo_snapshot_name(self.scope.name, when)
        if getattr(self, "method", None):
            self.snapshot_names = names_of(self.name, self.method)
