# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smhv_cleanup's engine: survey one scope, plan with rules.plan(), then (unless check mode) act.

    engine = CleanupEngine(session, storage, catalog, grace=timedelta(hours=1))
    result = engine.run(check_mode)   # {"changed", "actions", "orphans", "kept", "recovered", "failed", "warnings"}

Order, so that nothing an operation still owns is taken for an orphan:
1. `break_lease`: the scope's lease is released on behalf of a dead holder (Catalog.break_lease refuses a live one).
2. The scope's lease is taken (wait 0) for the run, so no backup of the scope starts meanwhile and every deletion is
   fenced; when a live operation holds it, the scope's checkpoints, snapshots and temporary groups are kept (its
   owner is named). Check mode only reads it.
3. The survey reads what is there first (checkpoints, disks and mount folders on every node; snapshots, temporary
   consistency groups, clones and their maps on ONTAP) and the owners after (open journals, mount records, backup
   records): an operation writes its journal's intent before it makes anything, so whatever the survey saw is named
   by a journal that is still open when the journals are read, or by the record the operation wrote before closing it.
4. Abandoned journals (their lease is free) are recovered with the function their operation registered
   (journal.register_recovery; journal.recover), under their lease; what they name is left to that recovery.
5. The rest of the plan runs in order; each failure is reported (`failed`, a warning) and the others still run.

A recovery function gets (journal, context) with context a RecoveryContext: `session` (ScopeSession), `storage`
(StorageClient), `catalog` (Catalog), `scope` (the scope's name), `warnings` (a list it may add to).
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import uuid

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import journal as journals
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import holder_gone
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.cleanup import rules
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import HAS_NETAPP_ONTAP, dig, fetch, parse_time
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.san import LUN_FIELDS, lun_ref
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow

if HAS_NETAPP_ONTAP:
    from netapp_ontap.resources import ConsistencyGroup, Igroup, Lun, LunMap

# Importing the engines registers their recoveries (journal.register_recovery); an engine that cannot be imported has
# none, and its journals are kept as RECOVERY_UNKNOWN. Static imports, so that AnsiballZ ships them.
try:
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import backup as backup_engine  # noqa: F401 pylint: disable=unused-import
except ImportError:
    backup_engine = None
try:
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import restore as restore_engine  # noqa: F401 pylint: disable=unused-import
except ImportError:
    restore_engine = None
try:
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import mount as mount_engine  # noqa: F401 pylint: disable=unused-import
except ImportError:
    mount_engine = None

MOUNT_ROOT = "C:\\SMHV\\Mounts"
MOUNTS_DIRECTORY = LAYOUT + "/mounts"
DEFAULT_GRACE = datetime.timedelta(hours=1)
LEASE_TTL = datetime.timedelta(minutes=30)


def lease_held(lease, now):
    """Whether a lease is held so that acquire_lease() would refuse it: unreleased, unexpired, and not a holder on this
    controller whose process is gone."""
    if lease is None or lease.free_at(now):
        return False
    return not holder_gone(lease)


def describe_lease(lease):
    since, renewed = lease.acquired.isoformat(), (lease.renewed or lease.acquired).isoformat()
    return "%s (operation %s, since %s, renewed %s)" % (lease.holder, lease.operation or "-", since, renewed)


class RecoveryContext:
    """What a recovery function is given (module docstring)."""

    def __init__(self, session, storage, catalog):
        self.session = session
        self.storage = storage
        self.catalog = catalog
        self.scope = session.name
        self.warnings = []


class CleanupEngine:
    def __init__(self, session, storage, catalog, grace=DEFAULT_GRACE, mount_root=MOUNT_ROOT, break_lease=False, lease_ttl=LEASE_TTL,
                 clock=utcnow):
        self.session = session
        self.storage = storage
        self.catalog = catalog
        self.grace = grace
        self.mount_root = mount_root.rstrip("\\")
        self.break_lease = break_lease
        self.lease_ttl = lease_ttl
        self.clock = clock
        self.warnings = []
        self.failed = []
        self.done = []
        self.recovered = []
        self.held = None
        self.lease_broken = None
        self.context = RecoveryContext(session, storage, catalog)

    @property
    def scope(self):
        return self.session.name

    # -- run ----------------------------------------------------------------------------------------
    def run(self, check_mode=False):
        leading = []
        busy = None
        current = self.catalog.read_lease(self.scope)
        now = self.clock()
        if self.break_lease and current is not None and not current.record.free_at(now):
            if self.catalog.lease_alive(current.record, now):
                self.catalog.break_lease(self.scope)  # raises LEASE_HELD, naming the holder
            leading.append("break the lease of scope %s held by %s" % (self.scope, describe_lease(current.record)))
            if not check_mode:
                self.lease_broken = self.catalog.break_lease(self.scope)
            current = None
        if check_mode:
            if current is not None and lease_held(current.record, now):
                busy = describe_lease(current.record)
        else:
            try:
                self.held = self.catalog.acquire_lease(self.scope, "smhv_cleanup on %s (pid %d)" % (socket.gethostname(), os.getpid()),
                                                       self.lease_ttl, operation="cleanup~%s" % uuid.uuid4().hex)
            except SmhvError as error:
                if error.code != "SCOPE_BUSY":
                    raise
                busy = "%s (operation %s)" % (error.details.get("holder"), error.details.get("operation") or "-")
        try:
            survey = self.survey(busy)
            plan = rules.plan(survey)
            plan.actions[:0] = leading
            if not check_mode:
                self.execute(plan)
        finally:
            if self.held is not None:
                try:
                    self.catalog.release_lease(self.held)
                except SmhvError as error:
                    self.warnings.append("The scope's lease could not be released (it expires by itself): %s" % error.message)
        changed = bool(plan.actions) if check_mode else bool(self.done or self.lease_broken or self.recovered)
        result = dict(plan.facts(), changed=changed, scope=self.scope, recovered=self.recovered, failed=self.failed,
                      warnings=self.warnings + self.context.warnings)
        if plan.orphans and any(plan.orphans.values()):
            counts = ", ".join("%d %s" % (len(items), kind.replace("_", " ")) for kind, items in plan.orphans.items() if items)
            result["summary"] = "%s: %s %s" % (self.scope, "would clean up" if check_mode else "cleaned up", counts)
        else:
            result["summary"] = "%s: nothing to clean up" % self.scope
        return result

    # -- survey -------------------------------------------------------------------------------------
    def _nodes(self, op, args=None, check_mode=False):
        answers = {}
        for node, answer in self.session.call_nodes(op, args, check_mode=check_mode).items():
            if isinstance(answer, SmhvError):
                self.warnings.append("Host %s did not answer %s (%s): what it holds is not cleaned up this time." % (node, op, answer.message))
                continue
            answers[node] = answer.result
        return answers

    def clients(self):
        clients = {self.session.owner.name: self.session.owner}
        clients.update(self.session.other_nodes())
        return clients

    def survey(self, busy):
        survey = rules.Survey(now=self.clock(), grace=self.grace, scope=self.scope, scope_busy=busy)
        # What is there, first.
        for node, result in self._nodes("checkpoint_list", {"prefix": rules.CHECKPOINT_PREFIX}).items():
            survey.checkpoints += [dict(item, node=node) for item in result["checkpoints"]]
        serials = set()
        for node, result in self._nodes("disk_rescan", check_mode=True).items():
            disks = {}
            for disk in result["disks"]:
                if disk["netapp_lun"] and disk["serial"]:
                    disks[disk["serial"].strip()] = list(disk["access_paths"])
            survey.disks[node] = disks
            serials.update(disks)
        survey.folders = self._folders()
        self._mounted_folders(survey)
        volumes = self._volumes(serials)
        for volume in volumes:
            try:
                survey.snapshots += self.storage.list_snapshots(volume)
            except SmhvError as error:
                self.warnings.append("The snapshots of volume %s could not be listed: %s" % (volume.path, error.message))
        survey.consistency_groups = self._consistency_groups(volumes)
        survey.clones, survey.igroups = self._clones(volumes)
        # Then who owns what.
        survey.owners = self._journal_owners(busy) + self._mount_owners()
        survey.backups = dict((summary.name.lower(), summary.status) for summary in self.catalog.list_backups())
        survey.datasets = set(name.lower() for name in self.catalog.list_datasets())
        return survey

    def _folders(self):
        folders = []
        for node, result in self._nodes("file_list", {"path": self.mount_root}).items():
            for entry in result["entries"]:
                name = entry["name"]
                if not entry["is_directory"] or not (name.startswith(rules.RESTORE_CLONE_PREFIX) or rules.parse_backup_name(name)):
                    continue
                try:
                    children = self.clients()[node].call("file_list", {"path": entry["path"]}).result["entries"]
                except SmhvError as error:
                    self.warnings.append("Folder %s on %s could not be listed: %s" % (entry["path"], node, error.message))
                    continue
                folders.append({"node": node, "path": entry["path"], "name": name, "children": children})
        return folders

    def _mounted_folders(self, survey):
        """Folders under the mount root that a disk is connected at but the listing did not show (a mount point), as
        folders of their own: {"node", "path", "name", "children": the deeper access paths as folders}."""
        root = self.mount_root.lower() + "\\"
        known = set((folder["node"], folder["path"].lower().rstrip("\\")) for folder in survey.folders)
        added = {}
        for node, disks in survey.disks.items():
            for paths in disks.values():
                for path in paths:
                    if not path.lower().startswith(root):
                        continue
                    parts = path[len(root):].strip("\\").split("\\")
                    top = self.mount_root + "\\" + parts[0]
                    if (node, top.lower()) in known:
                        continue
                    folder = added.setdefault((node, top.lower()), {"node": node, "path": top, "name": parts[0], "children": []})
                    if len(parts) > 1:
                        folder["children"].append({"path": top + "\\" + parts[1], "name": parts[1], "is_directory": True})
        survey.folders += list(added.values())

    def _volumes(self, serials):
        if not serials:
            return []
        luns = self.storage.find_luns_by_serials(sorted(serials))
        wanted = {}
        for lun in luns.values():
            wanted.setdefault(lun.cluster, set()).add(lun.volume_uuid)
        volumes = []
        for cluster, uuids in sorted(wanted.items()):
            volumes += self.storage.get_volumes(cluster, sorted(uuids))
        return volumes

    def _endpoint(self, cluster):
        return self.storage._clusters.endpoint(cluster)  # pylint: disable=protected-access

    def _consistency_groups(self, volumes):
        groups = []
        by_svm = {}
        for volume in volumes:
            by_svm.setdefault((volume.cluster, volume.svm), set()).add(volume.uuid)
        for (cluster, svm), uuids in sorted(by_svm.items()):
            if not self.storage.cluster_for(cluster).supports_cg_snapshots:
                continue
            with self._endpoint(cluster).call("list temporary consistency groups of SVM %s" % svm):
                records = fetch(ConsistencyGroup, fields="name,uuid,volumes", name=rules.TEMPORARY_CG_PREFIX + "*", **{"svm.name": svm})
            for record in records:
                members = record.get("volumes") or []
                if any(member.get("uuid") in uuids for member in members) and record["name"].startswith(rules.TEMPORARY_CG_PREFIX):
                    groups.append({"cluster": cluster, "svm": svm, "name": record["name"], "uuid": record["uuid"],
                                   "volumes": [member.get("name") for member in members]})
        return groups

    def _clones(self, volumes):
        clones, igroups = [], {}
        by_cluster = {}
        for volume in volumes:
            by_cluster.setdefault(volume.cluster, []).append(volume.uuid)
        for cluster, uuids in sorted(by_cluster.items()):
            endpoint = self._endpoint(cluster)
            with endpoint.call("list the LUN clones of smhv_restore and smhv_mount"):
                records = fetch(Lun, fields=LUN_FIELDS + ",create_time", **{"location.volume.uuid": "|".join(uuids)})
            found = []
            for record in records:
                name = record["name"].rsplit("/", 1)[-1]
                if name.startswith((rules.RESTORE_CLONE_PREFIX, rules.MOUNT_CLONE_PREFIX)):
                    lun = lun_ref(cluster, record)
                    found.append({"cluster": cluster, "svm": lun.svm, "path": lun.path, "name": name, "uuid": lun.lun_uuid,
                                  "serial": lun.serial, "create_time": parse_time(record.get("create_time")), "maps": [], "lun": lun})
            if not found:
                continue
            with endpoint.call("list the maps of %d LUN clones" % len(found)):
                maps = fetch(LunMap, fields="igroup.name,igroup.uuid,lun.uuid", **{"lun.uuid": "|".join(clone["uuid"] for clone in found)})
            by_uuid = dict((clone["uuid"], clone) for clone in found)
            for mapping in maps:
                clone = by_uuid.get(dig(mapping, "lun.uuid"))
                if clone is not None:
                    clone["maps"].append({"igroup": dig(mapping, "igroup.name"), "igroup_uuid": dig(mapping, "igroup.uuid")})
            group_uuids = sorted(set(item["igroup_uuid"] for clone in found for item in clone["maps"]))
            if group_uuids:
                with endpoint.call("read the igroups the LUN clones are mapped to"):
                    for record in fetch(Igroup, fields="name,uuid,svm.name,lun_maps", uuid="|".join(group_uuids)):
                        igroups[record["uuid"]] = {"cluster": cluster, "svm": dig(record, "svm.name"), "name": record["name"],
                                                   "uuid": record["uuid"],
                                                   "luns": [dig(item, "lun.uuid") for item in record.get("lun_maps") or []]}
            clones += found
        return clones, igroups

    def _journal_owners(self, busy):
        owners = []
        now = self.clock()
        leases = {}
        for versioned in self.catalog.list_journals():
            journal = versioned.record
            tokens = rules.tokens_of(journal)
            lease_name = (journal.lease or "").lower()
            base = dict(kind="journal", id=journal.id, tokens=tokens, operation=journal.operation, subject=journal.subject or "",
                        lease=lease_name)
            if not lease_name:
                owners.append(rules.Owner(text="journal %s (it names no lease)" % journal.id, **base))
                continue
            if lease_name == self.scope.lower():
                held_by = busy
            else:
                if lease_name not in leases:
                    found = self.catalog.read_lease(lease_name)
                    leases[lease_name] = describe_lease(found.record) if found is not None and lease_held(found.record, now) else None
                held_by = leases[lease_name]
            if held_by:
                owners.append(rules.Owner(text="journal %s (%s, running: lease %s held by %s)" % (journal.id, journal.operation, lease_name,
                                                                                                  held_by), **base))
            elif journal.operation not in journals.RECOVERY:
                owners.append(rules.Owner(text="journal %s (%s, abandoned, but no recovery is known for its operation: RECOVERY_UNKNOWN)"
                                          % (journal.id, journal.operation), **base))
            else:
                owners.append(rules.Owner(text="journal %s (%s, abandoned: its recovery settles it)" % (journal.id, journal.operation),
                                          recover=True, **base))
        return owners

    def _mount_owners(self):
        owners = []
        entries = [entry for entry in self.catalog.repository.list(MOUNTS_DIRECTORY, recurse=True)
                   if not entry.is_directory and entry.name.endswith(".json")]
        if not entries:
            return owners
        found = self.catalog.repository.read([entry.path for entry in entries])
        for entry in entries:
            stored = found.get(entry.path)
            if stored is None:
                continue
            try:
                record = json.loads(stored.text)
            except ValueError:
                record = stored.text  # its words still name what it owns
            owners.append(rules.Owner(kind="mount", id=entry.name, text="mount record %s" % entry.name, tokens=rules.tokens_of(record)))
        return owners

    # -- execute ------------------------------------------------------------------------------------
    def execute(self, plan):
        recover = [item for kind, item, _text in plan.steps if kind == "journals"]
        if recover:
            self._recover(recover)
        handlers = {"checkpoints": self._remove_checkpoint, "disconnect": self._disconnect, "clones": self._delete_clone,
                    "rescan": self._rescan, "igroups": self._delete_igroup, "mount_folders": self._delete_folders,
                    "consistency_groups": self._delete_group, "snapshots": self._delete_snapshot}
        fenced = False
        rescanned = set()
        for kind, item, text in plan.steps:
            if kind == "journals":
                continue
            if kind == "rescan":
                if item["node"] in rescanned:
                    continue
                rescanned.add(item["node"])
            if kind in ("clones", "igroups", "consistency_groups", "snapshots") and not fenced and self.held is not None:
                self.catalog.check_lease(self.held)  # ONTAP cannot check our fence: one read of the lease before deleting there
                fenced = True
            try:
                handlers[kind](item)
            except SmhvError as error:
                self.failed.append({"action": text or kind, "code": error.code, "message": error.message})
                self.warnings.append("Cleanup could not %s: %s" % (text or kind, error.message))
                continue
            if text:
                self.done.append(text)

    def _recover(self, owners):
        by_lease = {}
        for owner in owners:
            by_lease.setdefault(owner.lease, []).append(owner)
        for lease_name, listed in sorted(by_lease.items()):
            operations = sorted(set(owner.operation for owner in listed))
            held, release = None, False
            if lease_name == self.scope.lower():
                held = self.held
            else:
                try:
                    held = self.catalog.acquire_lease(self.scope, "smhv_cleanup on %s (pid %d), recovering" % (socket.gethostname(), os.getpid()),
                                                      self.lease_ttl, name=lease_name, operation="cleanup~%s" % uuid.uuid4().hex)
                    release = True
                except SmhvError as error:
                    self.warnings.append("Journals under lease %s were not recovered: %s" % (lease_name, error.message))
                    continue
            if held is None:
                continue
            try:
                outcomes = journals.recover(self.catalog, held, self.context, operations)
            finally:
                if release:
                    try:
                        self.catalog.release_lease(held)
                    except SmhvError as error:
                        self.warnings.append("Lease %s could not be released after recovery: %s" % (lease_name, error.message))
            for outcome in outcomes:
                self.recovered.append(outcome)
                if "error" in outcome:
                    self.failed.append({"action": "recover journal %s" % outcome["journal"], "code": outcome["error"]["code"],
                                        "message": outcome["error"]["message"]})
                    self.warnings.append("Journal %s was not recovered (it stays open for the next run): %s"
                                         % (outcome["journal"], outcome["error"]["message"]))

    def _client(self, node):
        clients = self.clients()
        if node not in clients:
            raise SmhvError("HOST_UNREACHABLE", "Host %s is not a node of scope %s now." % (node, self.scope), {"host": node})
        return clients[node]

    def _remove_checkpoint(self, item):
        result = self._client(item["node"]).call("checkpoint_remove", {"ids": [item["vm_id"]], "name": item["name"]}).result
        if result["failures"]:
            failure = result["failures"][0]
            raise SmhvError(failure["code"], failure["message"], {"vm_id": item["vm_id"], "checkpoint": item["name"]})

    def _disconnect(self, item):
        self._client(item["node"]).call("disk_disconnect", {"serial": item["serial"]})

    def _rescan(self, item):
        self._client(item["node"]).call("disk_rescan")

    def _delete_clone(self, clone):
        try:
            self.storage.san.delete_lun(clone["lun"], allow_mapped=True)
        except SmhvError as error:
            if error.code != "STORAGE_OBJECT_NOT_FOUND":
                raise

    def _delete_igroup(self, group):
        with self._endpoint(group["cluster"]).call("delete igroup '%s' of SVM %s" % (group["name"], group["svm"])):
            Igroup(uuid=group["uuid"]).delete()

    def _delete_folders(self, item):
        self._client(item["node"]).call("file_delete", {"paths": item["paths"]})

    def _delete_group(self, group):
        with self._endpoint(group["cluster"]).call("delete temporary consistency group '%s' (keeping its volumes and snapshots)" % group["name"]):
            ConsistencyGroup(uuid=group["uuid"]).delete()

    def _delete_snapshot(self, snapshot):
        outcome = self.storage.delete_snapshots([snapshot])
        problems = outcome.busy + outcome.failed
        if problems:
            raise problems[0][1]
