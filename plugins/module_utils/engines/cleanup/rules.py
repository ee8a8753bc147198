# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orphan rules of smhv_cleanup (docs/durability.md §4), pure: a Survey of what is there in, a Plan out.

An object is the collection's only by its name (or, for a snapshot, the comment every backup writes): checkpoints
`smhv_*`, snapshots commented "netapp_hyperv.smhv backup <name> of dataset <dataset>" (or named `<dataset>_<stamp>`
after a dataset of the scope, with no comment), consistency groups `smhv_tmp_*`, LUN clones `smhv_restore_*` and
`smhv_mount_*`, igroups `smhv_<host>` and folders under the mount root named like a restore's clone or a backup.
Anything else is not looked at. One of ours is kept when an owner names it: an open journal (running, or abandoned and
left to its operation's recovery), a mount record, a backup record (snapshots), a scope lease held by a live operation
(the scope's checkpoints, snapshots and temporary groups), or when it is younger than the grace period.

An owner names an object when one of its strings (any value of the journal or record, at any depth) is the object's
name, or holds it as a word: `backup~ds_03-14-2026_09.00.00` names the backup `ds_03-14-2026_09.00.00`, and so its
checkpoint `smhv_ds_03-14-2026_09.00.00`, its snapshots and its temporary consistency group.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import (
    backup_of_snapshot, parse_backup_name, parse_snapinfo_snapshot_name)

# The names the collection gives what it makes (backup.CHECKPOINT_PREFIX, backup.SNAPSHOT_COMMENT,
# ontap.TEMPORARY_CG_PREFIX, restore.CLONE_PREFIX, mount.CLONE_PREFIX, igroups.igroup_name; a unit test checks they
# agree). Kept here so that the rules stay importable while the engines that make them are rewritten.
CHECKPOINT_PREFIX = "smhv_"
SNAPSHOT_COMMENT = re.compile(r"^netapp_hyperv\.smhv backup (?P<backup>[A-Za-z0-9_.-]+) of dataset (?P<dataset>[A-Za-z0-9_-]+)$")
TEMPORARY_CG_PREFIX = "smhv_tmp_"
RESTORE_CLONE_PREFIX = "smhv_restore_"
MOUNT_CLONE_PREFIX = "smhv_mount_"
IGROUP_PREFIX = "smhv_"
# What the agent accepts as a checkpoint name (Assert-SmhvDataName).
AGENT_DATA_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# ONTAP snapshot owners that a cleanup never overrides (a replication's common snapshot, a FlexClone volume).
PROTECTED_SNAPSHOT_OWNERS = ("snapmirror", "volume_clone", "vault", "expiry_time")
_WORD = re.compile(r"[^a-z0-9_.\-]+")
KINDS = ("journals", "checkpoints", "snapshots", "consistency_groups", "clones", "lun_maps", "igroups", "mount_folders")


@dataclasses.dataclass
class Owner:
    """Something that may own objects: an open journal or a mount record. `tokens`: its strings and their words."""

    kind: str  # journal | mount
    id: str
    text: str  # how `kept` names it
    tokens: frozenset
    recover: bool = False  # an abandoned journal this run recovers (or would, in check mode)
    operation: str = ""
    subject: str = ""
    lease: str = ""


def strings_of(value):
    """Every string in a record: dict keys and values, lists, dataclasses, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_of(key)
            yield from strings_of(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from strings_of(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from strings_of(getattr(value, field.name))


def tokens_of(record):
    tokens = set()
    for text in strings_of(record):
        lowered = text.lower()
        tokens.add(lowered.rstrip("\\/"))
        tokens.update(word for word in _WORD.split(lowered) if word)
    return frozenset(tokens)


def owner_of(owners, candidates):
    """The first owner that names one of `candidates` (names or paths), or None."""
    wanted = [candidate.lower().rstrip("\\/") for candidate in candidates if candidate]
    for owner in owners:
        if any(candidate in owner.tokens for candidate in wanted):
            return owner
    return None


def clone_suffix(backup):
    """How a mount clone's name ends for a backup (mount.clone_name: every other character as '_')."""
    return "_" + re.sub(r"[^A-Za-z0-9_]", "_", backup).lower()


def mount_owner(owners, clone_name):
    """An owner naming a backup whose mount clones end like `clone_name` (a mount record names its backup)."""
    lowered = clone_name.lower()
    for owner in owners:
        for token in owner.tokens:
            if len(token) < 60 and parse_backup_name(token) and lowered.endswith(clone_suffix(token)):
                return owner
    return None


@dataclasses.dataclass
class Survey:
    """What a cleanup found in one scope. Times are aware UTC datetimes (None: unknown)."""

    now: datetime.datetime
    grace: datetime.timedelta
    scope: str = ""
    scope_busy: str | None = None  # the live holder of the scope's lease, when another operation holds it
    owners: list = dataclasses.field(default_factory=list)  # [Owner]
    backups: dict = dataclasses.field(default_factory=dict)  # {backup name lower: status}
    datasets: set = dataclasses.field(default_factory=set)  # dataset names, lower case
    # [{"node", "vm_id", "vm_name", "name", "created"}]
    checkpoints: list = dataclasses.field(default_factory=list)
    snapshots: list = dataclasses.field(default_factory=list)  # [SnapshotInfo] of the scope's volumes
    # [{"cluster", "svm", "name", "uuid", "volumes": [volume names]}]
    consistency_groups: list = dataclasses.field(default_factory=list)
    # [{"cluster", "svm", "path", "name", "uuid", "serial", "create_time", "maps": [{"igroup", "igroup_uuid"}], "lun": LunRef}]
    clones: list = dataclasses.field(default_factory=list)
    # {igroup uuid: {"cluster", "svm", "name", "uuid", "luns": [LUN uuids mapped]}}
    igroups: dict = dataclasses.field(default_factory=dict)
    disks: dict = dataclasses.field(default_factory=dict)  # {node: {serial: [access paths]}}
    # [{"node", "path", "name", "children": [{"path", "name", "is_directory"}]}] directly under the mount root
    folders: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Plan:
    actions: list = dataclasses.field(default_factory=list)
    orphans: dict = dataclasses.field(default_factory=lambda: {kind: [] for kind in KINDS})
    kept: list = dataclasses.field(default_factory=list)
    steps: list = dataclasses.field(default_factory=list)  # [(kind, item, action text)] in the order to run them

    def keep(self, kind, name, owner, **more):
        self.kept.append(dict(kind=kind, name=name, owner=owner, **more))

    def orphan(self, kind, item, why, action, **facts):
        self.orphans[kind].append(dict(facts, why=why))
        self.steps.append((kind, item, action))
        self.actions.append(action)

    def facts(self):
        return {"actions": list(self.actions), "orphans": self.orphans, "kept": self.kept}


def _age(now, when):
    return None if when is None else now - when


def _young(survey, when):
    """Why an object must wait (a text), or None when it is older than the grace period (or its age is unknown)."""
    age = _age(survey.now, when)
    if age is not None and age < survey.grace:
        return "grace period: made %d s ago, %d s allowed" % (max(0, int(age.total_seconds())), int(survey.grace.total_seconds()))
    return None


def _parse_time(text):
    if isinstance(text, datetime.datetime):
        return text
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def plan(survey):
    """The Plan for `survey`: journals to recover, then each kind of orphan, in the order they must go (clones and their
    disks before the igroups that served them, before their folders; snapshots after the clones that kept them busy)."""
    result = Plan()
    owners = survey.owners
    for owner in owners:
        if owner.kind == "journal" and owner.recover:
            result.orphan("journals", owner, "its operation's lease is free: the operation ended without closing it",
                          "recover journal %s (%s of %s) with the %s recovery" % (owner.id, owner.operation, owner.subject or "-", owner.operation),
                          name=owner.id, operation=owner.operation, subject=owner.subject, lease=owner.lease)
        elif owner.kind == "journal":
            result.keep("journals", owner.id, owner.text, operation=owner.operation, subject=owner.subject)
    _checkpoints(survey, result)
    orphan_clones = _clones(survey, result)
    _igroups(survey, result, orphan_clones)
    _folders(survey, result, orphan_clones)
    _consistency_groups(survey, result)
    _snapshots(survey, result)
    return result


def _scope_owner(survey, candidates):
    owner = owner_of(survey.owners, candidates)
    if owner is not None:
        return owner.text
    if survey.scope_busy:
        return "the scope's lease, held by %s" % survey.scope_busy
    return None


def _checkpoints(survey, result):
    for checkpoint in survey.checkpoints:
        name = checkpoint["name"]
        if not name.startswith(CHECKPOINT_PREFIX):
            continue
        label = "%s of VM %s" % (name, checkpoint["vm_name"])
        owner = _scope_owner(survey, [name, name[len(CHECKPOINT_PREFIX):]]) or _young(survey, _parse_time(checkpoint.get("created")))
        if owner is None and not AGENT_DATA_NAME.match(name):
            owner = "nobody, but its name holds characters the agent does not send: remove it with Remove-VMSnapshot"
        if owner is not None:
            result.keep("checkpoints", label, owner, vm_id=checkpoint["vm_id"], host=checkpoint["node"])
            continue
        result.orphan("checkpoints", checkpoint, "a backup's production checkpoint (prefix %s) that no open operation names: "
                      "a backup that stopped before removing it" % CHECKPOINT_PREFIX,
                      "remove checkpoint %s of VM %s (%s) on %s" % (name, checkpoint["vm_name"], checkpoint["vm_id"], checkpoint["node"]),
                      name=name, vm_id=checkpoint["vm_id"], vm_name=checkpoint["vm_name"], host=checkpoint["node"],
                      created=checkpoint.get("created"))


def snapshot_backup(snapshot, datasets):
    """(backup name, evidence) when a snapshot is the collection's, else None: our comment, or no comment and a backup's
    name of one of the scope's datasets. SnapInfo snapshots are never a backup's."""
    if parse_snapinfo_snapshot_name(snapshot.name) is not None:
        return None
    match = SNAPSHOT_COMMENT.match(snapshot.comment or "")
    if match:
        return match["backup"], "its comment says the collection made it for backup %s of dataset %s" % (match["backup"], match["dataset"])
    backup = backup_of_snapshot(snapshot.name)
    parsed = parse_backup_name(backup) if backup else None
    if not snapshot.comment and parsed and parsed[0].lower() in datasets:
        return backup, "it is named like a backup of dataset %s of this scope and has no comment" % parsed[0]
    return None


def _snapshots(survey, result):
    for snapshot in survey.snapshots:
        found = snapshot_backup(snapshot, survey.datasets)
        if found is None:
            continue
        backup, evidence = found
        status = survey.backups.get(backup.lower())
        if status is not None and status != "failed":
            continue  # a backup's snapshot: retention's business
        label = "%s of volume %s:%s" % (snapshot.name, snapshot.svm, snapshot.volume_name)
        owner = _scope_owner(survey, [snapshot.name, backup]) or _young(survey, snapshot.create_time)
        if owner is None and snapshot.create_time is None:
            owner = "its create time is unknown"
        protected = [item for item in snapshot.owners if item in PROTECTED_SNAPSHOT_OWNERS]
        if owner is None and protected:
            owner = "ONTAP: in use by %s" % ", ".join(protected)
        if owner is not None:
            result.keep("snapshots", label, owner, cluster=snapshot.cluster)
            continue
        why = "%s, and %s" % (evidence, "its backup record says the backup failed" if status else "the catalog has no backup record %s" % backup)
        result.orphan("snapshots", snapshot, why + ": it only uses up the volume's snapshot budget",
                      "delete snapshot %s of volume %s:%s on %s" % (snapshot.name, snapshot.svm, snapshot.volume_name, snapshot.cluster),
                      name=snapshot.name, backup=backup, volume="%s:%s" % (snapshot.svm, snapshot.volume_name), cluster=snapshot.cluster,
                      create_time=snapshot.create_time.isoformat() if snapshot.create_time else None)


def _consistency_groups(survey, result):
    for group in survey.consistency_groups:
        name = group["name"]
        if not name.startswith(TEMPORARY_CG_PREFIX):
            continue
        backup = name[len(TEMPORARY_CG_PREFIX):]
        parsed = parse_backup_name(backup)
        owner = _scope_owner(survey, [name, backup]) or _young(survey, parsed[1] if parsed else None)
        if owner is not None:
            result.keep("consistency_groups", name, owner, cluster=group["cluster"], svm=group["svm"])
            continue
        result.orphan("consistency_groups", group, "a temporary consistency group (made for one snapshot, deleted right after) that "
                      "no open operation names; later backups of its volumes would reuse it",
                      "delete temporary consistency group %s of SVM %s on %s (its volumes and snapshots stay)" % (name, group["svm"], group["cluster"]),
                      name=name, cluster=group["cluster"], svm=group["svm"], volumes=list(group.get("volumes") or []))


def _clones(survey, result):
    orphans = []
    for clone in survey.clones:
        name = clone["name"]
        if not name.startswith((RESTORE_CLONE_PREFIX, MOUNT_CLONE_PREFIX)):
            continue
        label = "%s:%s" % (clone["cluster"], clone["path"])
        owner = owner_of(survey.owners, [name, clone["path"]])
        if owner is None and name.startswith(MOUNT_CLONE_PREFIX):
            owner = mount_owner(survey.owners, name)
        owner = owner.text if owner is not None else _young(survey, clone.get("create_time"))
        if owner is not None:
            result.keep("clones", label, owner, serial=clone["serial"])
            continue
        orphans.append(clone)
        kind = "a restore's" if name.startswith(RESTORE_CLONE_PREFIX) else "a mount's"
        hosts = sorted(node for node, disks in survey.disks.items() if clone["serial"] in disks)
        for node in hosts:
            paths = survey.disks[node][clone["serial"]]
            result.actions.append("disconnect clone %s from %s%s" % (label, node, " (at %s)" % ", ".join(paths) if paths else ""))
            result.steps.append(("disconnect", {"node": node, "serial": clone["serial"]}, result.actions[-1]))
        maps = ["%s" % item["igroup"] for item in clone.get("maps") or []]
        for item in clone.get("maps") or []:
            result.orphans["lun_maps"].append({"lun": label, "igroup": item["igroup"], "why": "maps orphan clone %s" % name})
        result.orphan("clones", clone, "%s LUN clone that no mount record or open journal names" % kind,
                      "delete LUN clone %s%s" % (label, " and its maps to igroup %s" % ", ".join(maps) if maps else ""),
                      name=name, path=clone["path"], cluster=clone["cluster"], svm=clone["svm"], serial=clone["serial"],
                      hosts=hosts, igroups=maps)
        for node in hosts:
            result.steps.append(("rescan", {"node": node}, None))
    return orphans


def _igroups(survey, result, orphan_clones):
    gone = set(clone["uuid"] for clone in orphan_clones)
    served = {}
    for clone in orphan_clones:
        for item in clone.get("maps") or []:
            served.setdefault(item["igroup_uuid"], []).append(clone["name"])
    for uuid, clones in sorted(served.items()):
        group = survey.igroups.get(uuid)
        if group is None or not group["name"].startswith(IGROUP_PREFIX):
            continue  # not ours: only the map goes, with the clone
        others = [lun for lun in group["luns"] if lun not in gone]
        if others:
            result.keep("igroups", group["name"], "it also maps %d other LUN(s)" % len(others), cluster=group["cluster"], svm=group["svm"])
            continue
        result.orphan("igroups", group, "the collection's igroup whose only LUN maps were to orphan clones (%s)" % ", ".join(sorted(clones)),
                      "delete igroup %s of SVM %s on %s" % (group["name"], group["svm"], group["cluster"]),
                      name=group["name"], cluster=group["cluster"], svm=group["svm"])


def _key(path):
    return path.lower().rstrip("\\")


def _folders(survey, result, orphan_clones):
    orphan_serials = set(clone["serial"] for clone in orphan_clones)
    kept_clones = set(item["name"].lower() for item in survey.clones if item["serial"] not in orphan_serials)
    for folder in survey.folders:
        name, node = folder["name"], folder["node"]
        parsed = parse_backup_name(name)
        if not name.startswith(RESTORE_CLONE_PREFIX) and parsed is None:
            continue  # not a folder the collection makes
        mounted = {}  # access path (key) -> serial of the disk connected there
        for serial, paths in survey.disks.get(node, {}).items():
            for path in paths:
                mounted[_key(path)] = serial
        owner = owner_of(survey.owners, [name, folder["path"]])
        if owner is not None:
            result.keep("mount_folders", "%s on %s" % (folder["path"], node), owner.text)
            continue
        if name.lower() in kept_clones:
            result.keep("mount_folders", "%s on %s" % (folder["path"], node), "clone %s, which is kept" % name)
            continue
        inside = [folder] + [child for child in folder.get("children") or [] if child.get("is_directory")] if parsed else [folder]
        blocked = None
        for item in inside:
            serial = mounted.get(_key(item["path"]))
            if serial is not None and serial not in orphan_serials:
                blocked = "disk %s is connected at %s" % (serial, item["path"])
        files = [child["name"] for child in folder.get("children") or [] if not child.get("is_directory")]
        empty_after = not files or mounted.get(_key(folder["path"])) in orphan_serials
        if not parsed and folder.get("children") and mounted.get(_key(folder["path"])) not in orphan_serials:
            blocked = blocked or "it is not empty"
        if blocked is None and parsed and files:
            blocked = "it holds files"
        if blocked is not None or not empty_after:
            result.keep("mount_folders", "%s on %s" % (folder["path"], node), blocked or "it is not empty")
            continue
        paths = [child["path"] for child in folder.get("children") or [] if child.get("is_directory")] if parsed else []
        paths.append(folder["path"])
        kind = "a restore's clone folder" if not parsed else "a mount's folder for backup %s" % name
        result.orphan("mount_folders", {"node": node, "paths": paths}, "%s under the mount root that no mount record or open journal "
                      "names" % kind, "delete mount folder %s on %s" % (folder["path"], node), path=folder["path"], host=node)
