"""Restore and mount durability on the lab (issue 13): a LUN-level restore that fails after its disk went offline puts
the VM back as it was; two restores of VMs on one CSV at once use clones of their own; a file-copy restore killed
(SIGKILL) while copying leaves its clone and its journal, and the next restore of that VM removes the clone and
restores; a name that is another VM's id is refused as ambiguous."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.run import MountEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from e2e.backup_support import LabSite
from e2e.restore_support import SNAPINFO, inventory, leftovers, read, restore, shape, write

DATA = "C:\\data\\ledger.txt"
HV03_VMS = ["vm-print01", "vm-file01", "vm-file02"]
WEB_VMS = ["vm-web01", "vm-web02"]
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "files", HV03_VMS)
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "web", WEB_VMS)
    for vm in HV03_VMS + WEB_VMS:
        write(lab, vm, DATA, "%s: before" % vm)
    for scope, dataset in (("hv03", "files"), ("hvclus01", "web")):
        backup = site.backup(scope, dataset, backup_method="checkpoint")
        assert backup["backup"]["status"] == "ok", backup
    for vm in HV03_VMS + WEB_VMS:
        write(lab, vm, DATA, "%s: after" % vm)
    return site


def disk_of(lab, host, access_path):
    return next(disk for disk in lab.state()["hosts"][host]["disks"] if access_path in [p.rstrip("\\") + "\\" for p in disk["access_paths"]])


def journals(site, scope="hv03"):
    with site.session(scope) as session:
        return [j.record for j in Catalog(HostRepository(session.owner, SNAPINFO)).list_journals()]


def test_a_lun_level_restore_failing_after_the_disk_went_offline_puts_the_vm_back(site, lab):
    before = inventory(site, "vm-print01")
    assert before["state"] == "Running"
    lab.control("DELETE", "/faults")
    lab.control("POST", "/faults", {"target": "ontap", "kind": "http_error", "match": {"method": "POST", "path": ".*restore-file.*"}})
    with pytest.raises(SmhvError) as failed:
        restore(site, "vm-print01")
    lab.control("DELETE", "/faults")
    error = failed.value
    assert error.details["step"] == "restore" and error.details["vm_registered"] is True
    assert error.details["undo"]["result"] == "undone" and "back as it was before the restore" in error.message
    now = inventory(site, "vm-print01")
    assert shape(now) == shape(before)  # registered, running, same configuration, disks and LUNs
    assert disk_of(lab, "hv03", "K:\\")["online"]
    assert read(lab, "vm-print01", DATA)[0] == "vm-print01: after"  # the SnapRestore never ran
    assert leftovers(lab) == [] and journals(site) == []
    result = restore(site, "vm-print01")  # and the re-run is an ordinary restore (not RESTORE_UNSUPPORTED)
    assert [plan["method"] for plan in result["luns"]] == ["lun"] and result["vm"]["state"] == "Running"
    assert read(lab, "vm-print01", DATA)[0] == "vm-print01: before"


def test_two_restores_of_vms_on_one_csv_at_once_use_clones_of_their_own(site, lab):
    results, errors, clones = {}, {}, set()
    seen = threading.Event()

    def watch():  # the clones that exist while both run
        while not seen.is_set():
            clones.update(re.findall(r"smhv_restore_([0-9a-f]{8})_", json.dumps(lab.state())))
            time.sleep(0.02)

    def run(vm):
        try:
            results[vm] = restore(site, vm, scope="hvclus01")
        except SmhvError as error:
            errors[vm] = error

    lab.control("DELETE", "/faults")
    lab.control("POST", "/faults", {"target": "agent", "kind": "delay", "match": {"op": "file_copy"}, "times": 0, "params": {"seconds": 0.5}})
    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=run, args=(vm,)) for vm in WEB_VMS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen.set()
    watcher.join()
    lab.control("DELETE", "/faults")
    assert errors == {}
    for vm in WEB_VMS:
        assert results[vm]["vm"]["state"] == "Running" and results[vm]["vm"]["cluster_group"] == vm
        assert read(lab, vm, DATA)[0] == "%s: before" % vm
    assert len(clones) == 2, clones  # one clone per restore (named after its operation), never shared
    assert results["vm-web01"]["operation"] != results["vm-web02"]["operation"]
    assert leftovers(lab) == [] and journals(site, "hvclus01") == []


CHILD = """
import sys
from pathlib import Path
from smhv_lab.client import LabHandle
from e2e.backup_support import LabSite
from e2e.restore_support import restore
restore(LabSite(LabHandle(Path(sys.argv[1]))), "vm-file01")
"""


def test_a_killed_file_copy_restore_leaves_a_clone_the_next_restore_removes(site, lab):
    before = inventory(site, "vm-file01")
    lab.control("DELETE", "/faults")
    # the second file_copy is the copy of the backup's files (the first saves the configuration): it waits 3 s
    lab.control("POST", "/faults", {"target": "agent", "kind": "delay", "match": {"op": "file_copy"}, "nth": 2, "params": {"seconds": 3}})
    paths = [str(TESTS), str(TESTS.parent / ".cache" / "collections")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(lab.state_dir)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if lab.control("GET", "/faults")["rules"][0]["fired"]:
            break
        time.sleep(0.05)
    assert child.poll() is None, child.stdout.read().decode()
    os.kill(child.pid, signal.SIGKILL)  # while the host copies
    child.wait()
    time.sleep(3.5)  # the host finishes the copy it was asked for
    lab.control("DELETE", "/faults")
    assert any("smhv_restore_" in item for item in leftovers(lab))  # the clone, its disk and its mount folder
    assert [j.operation for j in journals(site)] == ["restore"]
    assert inventory(site, "vm-file01") is None  # removed, not registered again: the run was killed
    result = restore(site, "vm-file01")
    assert any("interrupted restore" in note for note in result["notes"]), result["notes"]
    assert leftovers(lab) == [] and journals(site) == []
    now = inventory(site, "vm-file01")
    assert now["state"] == "Running" and shape(now)["serials"] == shape(before)["serials"]
    assert read(lab, "vm-file01", DATA)[0] == "vm-file01: before"


def test_a_name_that_is_another_vms_id_is_ambiguous(site, lab):
    """An impostor VM on hv03 is called what vm-file02's id is: by that string the restore is refused, naming both."""
    target = site.vm_ids("hv03", ["vm-file02"])["vm-file02"]
    impostor = "0f0f0f0f-1111-4222-8333-444455556666"
    with site.session("hv03") as session:
        config = inventory(site, "vm-file02")["config_path"]
        document = json.loads(session.owner.call("file_read", {"paths": [config]}).result["files"][0]["content"])
        document.update(id=impostor, name=target)
        path = "J:\\impostor\\Virtual Machines\\%s.vmcx" % impostor.upper()
        session.owner.call("file_write", {"path": path, "content": json.dumps(document), "create_dirs": True})
        session.owner.call("vm_import", {"path": path})
    try:
        with pytest.raises(SmhvError) as refused:
            restore(site, target)
        assert refused.value.code == "VM_AMBIGUOUS" and "vm-file02" in refused.value.message and impostor in refused.value.message
        with pytest.raises(SmhvError) as spaced:
            restore(site, " vm-file02 ")
        assert spaced.value.code == "INVALID_ARGUMENT"
        with pytest.raises(SmhvError) as by_id:  # the impostor's own id names it alone: it is in no backup
            restore(site, impostor)
        assert by_id.value.code == "BACKUP_NOT_FOUND"
        with site.session("hv03") as session:  # smhv_mount's vm: the backup's VMs, the same rule
            engine = MountEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)))
            backup = engine.catalog.list_backups(dataset="files", status="ok")[-1].name
            planned = engine.run(backup, vm=target, check_mode=True)
        assert [m["lun"].rsplit("/", 1)[1] for m in planned["mounts"]] == ["lun_j"]
    finally:
        with site.session("hv03") as session:
            session.owner.call("vm_remove", {"ids": [impostor]})
    assert inventory(site, "vm-file02")["state"] == "Running" and leftovers(lab) == []
