"""Shared by the durability tests (issue 13): oracles read from the lab itself, fault points recorded from a clean
run, the modules run as real processes, and the counts the tests print.

The oracles never go through the collection's code: the catalog is read file by file from the SnapInfo LUN through the
lab's world (GET /host-files), ONTAP's objects through GET /storage-objects and the hosts through GET /state, so a bug
in the catalog or in the ONTAP client cannot hide itself.

    oracle a  every backup record with status ok has all its snapshots on ONTAP
    oracle b  no committed backup lost: every ok record (and its snapshots) from before a case is still there after it
    oracle c  nothing left behind: smhv_* checkpoints, snapshots named like backups (or with the backup comment) that no
              ok record names, smhv_tmp_* consistency groups, smhv_restore_*/smhv_mount_* clones and their maps, folders
              under the mount root, open journals, held leases
    oracle d  every VM registered, in the state it was in, its disks online
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import quote

from lab_fixture import REPO_ROOT, collections_path

SNAPINFO = "S:\\SnapInfo"
MOUNT_ROOT = "C:\\SMHV\\Mounts"
LAYOUT = "smhv/v1"
BACKUP_NAME = re.compile(r"^(?P<dataset>.+)_(?P<stamp>\d\d-\d\d-\d{4}_\d\d\.\d\d\.\d\d)(?P<suffix>_backup)?$")
BACKUP_COMMENT = "netapp_hyperv.smhv backup"
CLONE_PREFIXES = ("smhv_restore_", "smhv_mount_")
READ_ONLY_OPS = {"host_facts", "vm_inventory", "path_info", "file_read", "file_list"}
POST_SCRIPT = {"path": "C:\\scripts\\post.cmd", "arguments": ["$VMSnapshot"], "host": None, "timeout": 60}


# -- reading the lab -------------------------------------------------------------------------------------------------

def scope_host(state, scope):
    """The host that holds a scope's SnapInfo LUN: a failover cluster's owner node, or the host itself."""
    cluster = state["failover_clusters"].get(scope)
    return cluster["owner_node"] if cluster else scope


def catalog_files(lab, host, snapinfo=SNAPINFO):
    """{relative path: text} of every file of the catalog below the SnapInfo folder, read from the LUN in the world."""
    try:
        answer = lab.control("GET", "/host-files?host=%s&path=%s" % (quote(host), quote(snapinfo)))
    except HTTPError as error:
        if error.code == 404:
            return {}
        raise
    return answer["files"]


@dataclass
class CatalogView:
    """One scope's catalog as files: backup records (with the status their file name says), journals, leases."""

    scope: str
    host: str
    backups: list = field(default_factory=list)  # dicts, plus "_file"
    journals: list = field(default_factory=list)
    leases: list = field(default_factory=list)
    unreadable: list = field(default_factory=list)


def read_catalog(lab, scope, state=None, snapinfo=SNAPINFO):
    state = state or lab.state()
    host = scope_host(state, scope)
    view = CatalogView(scope, host)
    for path, text in sorted(catalog_files(lab, host, snapinfo).items()):
        if not path.startswith(LAYOUT + "/") or not path.endswith(".json"):
            continue
        kind = path[len(LAYOUT) + 1:].split("/", 1)[0]
        if kind not in ("backups", "journals", "leases"):
            continue
        try:
            record = json.loads(text)
        except ValueError:
            view.unreadable.append(path)
            continue
        record["_file"] = path
        getattr(view, kind).append(record)
    return view


def ok_records(view):
    """{backup name: {(cluster, volume, snapshot), ...}} of the records whose file name and content say ok."""
    found = {}
    for record in view.backups:
        status_in_name = record["_file"].rsplit("~", 1)[-1][:-len(".json")]
        if record.get("status") != "ok" or status_in_name != "ok":
            continue
        snapshots = set()
        for vm in record.get("vms") or ():
            if vm.get("outcome") == "skipped":
                continue
            for item in vm.get("files") or ():
                for snapshot in item.get("snapshots") or ():
                    snapshots.add((item["cluster"], item["volume"], snapshot))
        found[record["name"]] = snapshots
    return found


@dataclass
class Snapshot:
    """What is true at one moment: the catalogs, ONTAP's objects and the hosts."""

    state: dict
    storage: dict
    catalogs: dict  # scope -> CatalogView
    mount_files: dict = field(default_factory=dict)  # host -> files below the mount root on its system drive

    @property
    def committed(self):
        """{(scope, backup name): snapshots} of every ok record."""
        return {(scope, name): snaps for scope, view in self.catalogs.items() for name, snaps in ok_records(view).items()}

    def snapshots_on(self, cluster, volume):
        vol = self.storage.get(cluster, {}).get("volumes", {}).get(volume)
        return None if vol is None else {s["name"] for s in vol["snapshots"]}


def observe(lab, scopes):
    state = lab.state()
    storage = lab.control("GET", "/storage-objects")
    mount_files = {host: sorted(catalog_files(lab, host, MOUNT_ROOT)) for host in state["hosts"]}
    return Snapshot(state, storage, {scope: read_catalog(lab, scope, state) for scope in scopes}, mount_files)


# -- the oracles -----------------------------------------------------------------------------------------------------

def records_without_snapshots(now):
    """Oracle a: every ok record's snapshots exist on ONTAP. Problems as text."""
    problems = []
    for (scope, name), snaps in sorted(now.committed.items()):
        if not snaps:
            problems.append("%s: ok record %s names no snapshot" % (scope, name))
        for cluster, volume, snapshot in sorted(snaps):
            present = now.snapshots_on(cluster, volume)
            if present is None or snapshot not in present:
                problems.append("%s: ok record %s, snapshot %s missing on %s:%s" % (scope, name, snapshot, cluster, volume))
    for view in now.catalogs.values():
        problems += ["%s: unreadable catalog file %s" % (view.scope, path) for path in view.unreadable]
    return problems


def lost_backups(before, after):
    """Oracle b: every ok record of `before` is still ok in `after`, with the same snapshots, all present."""
    lost = []
    now = after.committed
    for key, snaps in sorted(before.committed.items()):
        if key not in now:
            lost.append("%s: committed backup %s lost (record gone or no longer ok)" % key)
        elif now[key] != snaps:
            lost.append("%s: committed backup %s changed its snapshots" % key)
        else:
            missing = [s for s in snaps if s[2] not in (after.snapshots_on(s[0], s[1]) or ())]
            if missing:
                lost.append("%s: committed backup %s lost snapshots %s" % (key + (sorted(missing),)))
    return lost


def leftovers(now, owned_clones=()):
    """Oracle c: what the collection made that nothing owns. `owned_clones`: LUN paths a mount still owns."""
    found = []
    named = {(c, v, s) for snaps in now.committed.values() for c, v, s in snaps}
    for host, info in sorted(now.state["hosts"].items()):
        for vm in info["vms"]:
            found += ["%s: checkpoint %s on %s" % (host, c, vm["name"]) for c in vm["checkpoints"] if c.lower().startswith("smhv_")]
        root = MOUNT_ROOT.lower() + "\\"
        paths = [p for disk in info["disks"] for p in disk["access_paths"]] + list(info["folders"])
        found += ["%s: mount path %s" % (host, p) for p in paths if p.lower().startswith(root)]
        found += ["%s: file %s\\%s" % (host, MOUNT_ROOT, f.replace("/", "\\")) for f in now.mount_files.get(host, ())]
    for cluster, objects in sorted(now.storage.items()):
        for volume, vol in sorted(objects["volumes"].items()):
            for snap in vol["snapshots"]:
                if snap["name"].startswith("smhv_snapinfo_"):
                    continue  # the SnapInfo's own copies, kept by smhv_snapinfo's retention
                ours = BACKUP_NAME.match(snap["name"]) or (snap["comment"] or "").startswith(BACKUP_COMMENT)
                if ours and vol["type"] == "rw" and (cluster, volume, snap["name"]) not in named:
                    found.append("%s:%s: snapshot %s that no ok record names" % (cluster, volume, snap["name"]))
            for lun in vol["luns"]:
                if lun["path"].rsplit("/", 1)[-1].startswith(CLONE_PREFIXES) and lun["path"] not in owned_clones:
                    found.append("%s: LUN clone %s" % (cluster, lun["path"]))
        found += ["%s: consistency group %s" % (cluster, cg["name"]) for cg in objects["consistency_groups"]
                  if cg["name"].startswith("smhv_tmp_")]
        found += ["%s: LUN map %s -> %s" % (cluster, m["lun"], m["igroup"]) for m in objects["lun_maps"]
                  if m["lun"].rsplit("/", 1)[-1].startswith(CLONE_PREFIXES) and m["lun"] not in owned_clones]
    for scope, view in sorted(now.catalogs.items()):
        found += ["%s: open journal %s (%s)" % (scope, j["_file"].rsplit("/", 1)[-1], j.get("state")) for j in view.journals]
        for lease in view.leases:
            if not lease.get("released"):
                found.append("%s: lease %s held by %s" % (scope, lease["_file"].rsplit("/", 1)[-1], lease.get("holder")))
    return found


def vms(state):
    """{vm id: (name, host, state)} of every registered VM."""
    return {vm["id"]: (vm["name"], host, vm["state"]) for host, info in state["hosts"].items() for vm in info["vms"]}


def unhealthy_vms(before, after):
    """Oracle d: every VM of `before` is registered, in the state it was in, every disk of its files online, and every
    clustered VM still a role of its failover cluster."""
    problems = []
    now = vms(after.state)
    for vm_id, (name, _host, state) in sorted(vms(before.state).items(), key=lambda item: item[1][0]):
        if vm_id not in now:
            problems.append("VM %s is no longer registered" % name)
            continue
        host = now[vm_id][1]
        if now[vm_id][2] != state:
            problems.append("VM %s is %s, was %s" % (name, now[vm_id][2], state))
        record = next(vm for vm in after.state["hosts"][host]["vms"] if vm["id"] == vm_id)
        disks = after.state["hosts"][host]["disks"]
        for path in [record["config_path"]] + list(record["vhd_paths"]):
            key = path.lower()
            holders = [(len(a), d) for d in disks for a in d["access_paths"] if key.startswith(a.lower().rstrip("\\") + "\\")]
            if not holders:
                problems.append("VM %s: no disk holds %s" % (name, path))
            elif not max(holders, key=lambda item: item[0])[1]["online"]:
                problems.append("VM %s: the disk of %s is offline" % (name, path))
    for name, cluster in sorted(before.state["failover_clusters"].items()):
        roles = after.state["failover_clusters"].get(name, {}).get("vm_roles", {})
        for vm_id in sorted(cluster["vm_roles"]):
            if vm_id not in roles:
                problems.append("VM %s is no longer a role of cluster %s" % (vms(before.state).get(vm_id, (vm_id,))[0], name))
    return problems


# -- fault points ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FaultPoint:
    """One request of a clean run: the `nth` agent op `key` on `where`, or the `nth` ONTAP request `key`
    ('METHOD /route/{x}') on cluster `where`. `step`: the journal step it fell in during the clean run."""

    layer: str
    where: str
    key: str
    nth: int
    mutating: bool
    step: str = ""
    journal: bool = False  # an agent op that wrote the operation's journal

    @property
    def label(self):
        return "%s:%s:%s#%d" % (self.layer, self.where, self.key.replace(" ", "_"), self.nth)

    def rules(self, how):
        """The control API's fault rules for `how`: 'error' (an error answer) or 'lost' (the answer lost after the host or
        ONTAP acted: the agent's answer dropped, an ONTAP job's poll dropped)."""
        if self.layer == "agent":
            kind = "agent_error" if how == "error" else "drop"
            return [{"target": "agent", "kind": kind, "match": {"op": self.key, "host": self.where}, "nth": self.nth, "times": 1}]
        method, route = self.key.split(" ", 1)
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", re.escape(route).replace("\\{", "{").replace("\\}", "}"))
        match = {"method": method, "path": pattern, "cluster": self.where}
        kind = "http_error" if how == "error" else "drop"
        # urllib3 re-sends a GET or DELETE whose connection dropped (4 retries): drop them all, so the answer is lost
        return [{"target": "ontap", "kind": kind, "match": match, "nth": self.nth, "times": 1 if how == "error" else 5,
                 "params": {"status": 500, "code": 1, "message": "Injected error."}}]


def agent_log(lab):
    return lab.control("GET", "/agent-requests")["requests"]


def ontap_counts(lab):
    return {(cluster, item["method"], item["path"]): item["count"]
            for cluster, items in lab.control("GET", "/ontap-requests").items() for item in items}


class Recorder:
    """The requests a clean run makes: agent ops in order, ONTAP requests counted per route. With `trace_steps`, the
    journal steps each falls in (OperationJournal's writes are watched in-process: test instrumentation only)."""

    def __init__(self, lab):
        self.lab = lab
        self.steps = []  # (step name, state, agent ops so far, ontap counts so far)
        self.journal_ops = set()  # indexes of the agent ops that wrote the journal

    @contextmanager
    def recording(self, trace_steps=True):
        self.lab.control("DELETE", "/agent-requests")
        self.ontap_before = ontap_counts(self.lab)
        self.steps = []
        self.journal_ops = set()
        undo = self._trace() if trace_steps else (lambda: None)
        try:
            yield self
        finally:
            undo()
            self.agent = agent_log(self.lab)
            self.ontap_after = ontap_counts(self.lab)

    def _trace(self):
        try:
            from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import journal
        except ImportError:
            return lambda: None
        original = journal.OperationJournal._add
        recorder = self

        def add(self, name, state, data):
            began = len(agent_log(recorder.lab))
            if state in ("intent", "done", "failed"):
                recorder.steps.append((name, state, began, ontap_counts(recorder.lab)))
            try:
                return original(self, name, state, data)
            finally:
                recorder.journal_ops.update(range(began, len(agent_log(recorder.lab))))

        journal.OperationJournal._add = add
        return lambda: setattr(journal.OperationJournal, "_add", original)

    def _step_of_agent(self, index):
        current = ""
        for name, state, agents, _ontap in self.steps:
            if agents <= index:
                current = name if state == "intent" else name + ":after"
        return current or "before-journal"

    def _step_of_ontap(self, key, nth):
        current = ""
        before = self.ontap_before.get(key, 0)
        for name, state, _agents, counts in self.steps:
            if counts.get(key, 0) - before < nth:
                current = name if state == "intent" else name + ":after"
        return current or "before-journal"

    def points(self):
        found, seen = [], {}
        for index, request in enumerate(self.agent):
            key = (request["host"], request["op"])
            seen[key] = seen.get(key, 0) + 1
            found.append(FaultPoint("agent", request["host"], request["op"], seen[key], request["op"] not in READ_ONLY_OPS,
                                    self._step_of_agent(index), index in self.journal_ops))
        for (cluster, method, route), count in sorted(self.ontap_after.items()):
            for nth in range(1, count - self.ontap_before.get((cluster, method, route), 0) + 1):
                key = "%s %s" % (method, route)
                found.append(FaultPoint("ontap", cluster, key, nth, method != "GET" or "/jobs/" in route,
                                        self._step_of_ontap((cluster, method, route), nth)))
        return found


def base_step(point):
    """A journal step without its index and phase: 'clone:0:after' -> 'clone'."""
    parts = [part for part in point.step.split(":") if part != "after" and not part.isdigit()]
    return ":".join(parts)


def select(points, group=base_step, covered=None):
    """The cases [(point, how, key)]: a bounded number that still fails every step both ways. Points are grouped (by
    journal step, unless the caller says otherwise); in each group the first of each kind of side effect (an agent op, an
    ONTAP method and route) fails with an error and with a lost answer (the agent's answer dropped after the op ran; an
    ONTAP request's connection dropped), the first ONTAP job poll is dropped (the job ran; its outcome is lost) and the
    first read fails once. The operation's first and last journal writes fail both ways. A run with no journal steps fails
    every side effect. `covered`: (group, kind, how) already failed by another operation's matrix (a step both share),
    skipped and updated."""
    journaled = any(point.step != "before-journal" for point in points)
    covered = set() if covered is None else covered
    journal_writes = [point for point in points if point.journal]
    cases = []
    for point in points:
        key = group(point) if journaled else point
        if point.layer == "ontap" and "/jobs/" in point.key:
            kinds = [("poll", "lost")]
        elif point.journal:
            if point not in (journal_writes[0], journal_writes[-1]):
                continue
            kinds = [("journal", "error"), ("journal", "lost")]
            key = "journal-first" if point == journal_writes[0] else "journal-last"
        elif point.mutating:
            kinds = [((point.layer, point.key), "error"), ((point.layer, point.key), "lost")]
        elif point.step != "before-journal":
            kinds = [("read", "error")]
        else:
            continue
        for kind, how in kinds:
            if (key, kind, how) not in covered:
                covered.add((key, kind, how))
                cases.append((point, how, case_key(key, kind, how)))
    return cases


def case_key(group, kind, how):
    """A case's name that does not depend on how many requests come before it: 'snapshot/ontap/lost'."""
    parts = group if isinstance(group, tuple) else (group.label if isinstance(group, FaultPoint) else group,)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return "/".join(str(part).replace(" ", "_") for part in parts + kinds + (how,))


def fired(lab):
    return sum(rule["fired"] for rule in lab.control("GET", "/faults")["rules"])


def inject(lab, point, how):
    lab.control("DELETE", "/faults")
    for rule in point.rules(how):
        lab.control("POST", "/faults", rule)


class Unexpected(Exception):
    """An exception that is not SmhvError out of a module's run(): in Ansible, a traceback ("this is a bug")."""

    def __init__(self, error):
        super().__init__("%s: %s" % (type(error).__name__, error))
        self.code = "UNEXPECTED_" + type(error).__name__
        self.message = str(self)
        self.details = getattr(error, "details", None) or {}


def attempt(function, *args, **kwargs):
    """(result, None) or (None, error): SmhvError as raised, anything else wrapped in Unexpected."""
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
    try:
        return function(*args, **kwargs), None
    except SmhvError as error:
        return None, error
    except Exception as error:  # noqa: BLE001 - a test harness reports every way a run can end
        return None, Unexpected(error)


def module_params(module, **given):
    """A module's parameters as AnsibleModule would fill them: its argument spec's defaults (read by running its main()
    with AnsibleModule replaced), then `given`."""
    captured = {}

    class Captured(Exception):
        pass

    class Capture:
        def __init__(self, argument_spec=None, **_options):
            captured.update(argument_spec or {})
            raise Captured()

    original = module.AnsibleModule
    module.AnsibleModule = Capture
    try:
        module.main()
    except Captured:
        pass
    finally:
        module.AnsibleModule = original
    params = {name: spec.get("default") for name, spec in captured.items()}
    params.update(given)
    return params


def cleanup(site, scope, **options):
    """smhv_cleanup of a scope (grace period 0: everything it finds is old enough), once it exists; None before.
    (result, error) as attempt() gives them."""
    try:
        from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_cleanup
    except ImportError:
        return None
    params = module_params(smhv_cleanup, **dict(site.common, hyperv_host=scope, grace_period=0, **options))
    return attempt(smhv_cleanup.run, params, False)


def final_sweep(tally, site, lab, scope, scopes=None):
    """smhv_cleanup once more at the end of a matrix, on a scope the cases left clean: it must find nothing to remove
    and lose nothing (a cleanup that took a committed backup's snapshot for an orphan would show here). `scopes`: every
    scope registered in the lab, whose catalogs name the snapshots (default: `scope` alone)."""
    before = observe(lab, scopes or [scope])
    swept = cleanup(site, scope)
    if swept is None:
        return
    after = observe(lab, scopes or [scope])
    result, error = swept
    problems = {"records_lost": lost_backups(before, after), "records_without_snapshots": records_without_snapshots(after),
                "leftovers": leftovers(after), "vm_problems": unhealthy_vms(before, after),
                "next_run": ["smhv_cleanup failed: %s: %s" % (error.code, error.message[:300])] if error else []}
    if result is not None and result.get("changed"):
        problems["next_run"].append("smhv_cleanup changed a clean scope: %s" % (result.get("actions") or [])[:3])
    tally.add("%s smhv_cleanup of the clean scope after the matrix" % tally.title, 0, problems)


# -- counts ----------------------------------------------------------------------------------------------------------

@dataclass
class Tally:
    """What a test module did, for the summary the lead quotes."""

    title: str
    cases: int = 0
    faults_fired: int = 0
    leftovers: int = 0
    records_lost: int = 0
    records_without_snapshots: int = 0
    vm_problems: int = 0
    failures: list = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, case, fired_count, problems):
        self.cases += 1
        self.faults_fired += fired_count
        for kind, items in problems.items():
            if kind in ("leftovers", "records_lost", "records_without_snapshots", "vm_problems"):
                setattr(self, kind, getattr(self, kind) + len(items))
        bad = {kind: items for kind, items in problems.items() if items}
        if bad:
            self.failures.append((case, bad))
        return bad

    def summary(self):
        lines = ["%s: %d cases, %d faults fired, %d leftovers, %d records lost, %d records without snapshots, %d VM problems, "
                 "%d failing cases, %.1f s" % (self.title, self.cases, self.faults_fired, self.leftovers, self.records_lost,
                                               self.records_without_snapshots, self.vm_problems, len(self.failures),
                                               time.monotonic() - self.started)]
        for case, bad in self.failures:
            found = ("%s: %s" % (k, ", ".join(v[:3]) + (" ..." if len(v) > 3 else "")) for k, v in bad.items())
            lines.append("  FAIL %s: %s" % (case, "; ".join(found)))
        return "\n".join(lines)


def report_findings(tally, path=None):
    """One line per failing case, appended to the findings file named by $SMHV_DURABILITY_FINDINGS (for the engineers
    working on the engines; nothing is written without it)."""
    path = path or os.environ.get("SMHV_DURABILITY_FINDINGS")
    if not tally.failures or not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for case, bad in tally.failures:
            text = "; ".join("%s: %s" % (k, " | ".join(item[:220] for item in v[:2])) for k, v in bad.items())
            out.write("- %s %s: %s\n" % (tally.title, case, text[:700]))


# -- modules as processes ----------------------------------------------------------------------------------------------

def module_env(tmp_dir):
    env = dict(os.environ)
    paths = [str(collections_path(Path(tmp_dir)))] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env.update({"PYTHONPATH": os.pathsep.join(paths), "ANSIBLE_LOCAL_TEMP": str(Path(tmp_dir) / "ansible-tmp"),
                "ANSIBLE_COLLECTIONS_PATH": paths[0]})
    return env


def given_only(value):
    """Options as a task gives them: those left out are not there (None would fail `choices` and mutually_exclusive)."""
    if isinstance(value, dict):
        return {name: given_only(item) for name, item in value.items() if item is not None}
    return value


def start_module(module, params, tmp_dir):
    """`python plugins/modules/<module>.py args.json`: the module's own main(), as AnsiballZ runs it, in its own process."""
    handle, args = tempfile.mkstemp(prefix=module + "-", suffix=".json", dir=str(tmp_dir))
    with os.fdopen(handle, "w") as out:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(given_only(params), _ansible_check_mode=False)}, out)
    script = REPO_ROOT / "plugins" / "modules" / (module + ".py")
    return subprocess.Popen([sys.executable, str(script), args], env=module_env(tmp_dir), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def module_result(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    try:
        return json.loads(out[out.index("{"):])
    except ValueError:
        return {"failed": True, "msg": "no JSON from the module (rc %s): %s %s" % (process.returncode, out[-2000:], err[-2000:])}


def kill(process):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for(predicate, timeout=30.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
