"""Restores from a crash-consistent and from a VSS-provider backup of hv03 on the lab, read back through the guest.

Each guest has a committed file and a write still in flight when the backup is taken. A crash-consistent
snapshot catches the in-flight write torn (half of it on the virtual disk, not complete), as a power cut would;
a VSS-provider backup goes through the Hyper-V writer, which has the guest flush first, so the write is whole.
The data is then damaged, and the restore must bring back exactly what the backup's snapshot holds.
"""
from __future__ import annotations

from urllib.parse import quote

import pytest

from e2e.backup_support import LabSite
from e2e.restore_support import SNAPINFO, leftovers, read, restore, write

LEDGER = "C:\\data\\ledger.txt"
JOURNAL = "C:\\data\\journal.log"
IN_FLIGHT = "journal: entry 41 committed, entry 42 being written"


def in_snapshot(lab, vm, path, snapshot):
    """(data, complete) of a guest file as an ONTAP snapshot of its LUN's volume holds it (the lab's own view)."""
    answer = lab.control("GET", "/snapshot-guest-data?vm=%s&path=%s&snapshot=%s" % (quote(vm), quote(path), quote(snapshot)))
    return answer["data"], answer["complete"]


def prepare(lab, vms):
    for vm in vms:
        write(lab, vm, LEDGER, "%s: ledger at backup" % vm)
        write(lab, vm, JOURNAL, IN_FLIGHT, in_flight=True)


def damage(lab, vms):
    for vm in vms:
        write(lab, vm, LEDGER, "%s: damaged" % vm)
        write(lab, vm, JOURNAL, "damaged")


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "crashy", ["vm-print01", "vm-file01"])
    site.dataset("hv03", SNAPINFO, "provider", ["vm-file02"])
    return site


def test_crash_consistent_restore_brings_back_the_torn_write(site, lab):
    vms = ["vm-print01", "vm-file01"]
    prepare(lab, vms)
    write(lab, "vm-file02", LEDGER, "vm-file02: neighbour")
    backup = site.backup("hv03", "crashy", backup_type="crash")
    assert backup["backup"]["status"] == "ok" and backup["backup"]["type"] == "crash", backup
    name = backup["backup"]["name"]
    held = {vm: (in_snapshot(lab, vm, LEDGER, name), in_snapshot(lab, vm, JOURNAL, name)) for vm in vms}
    torn = (IN_FLIGHT[:len(IN_FLIGHT) // 2], False)
    for vm in vms:
        assert held[vm] == (("%s: ledger at backup" % vm, True), torn)  # what the lab models: half written
    damage(lab, vms)
    write(lab, "vm-file02", LEDGER, "vm-file02: neighbour, later")
    for vm, method in (("vm-print01", "lun"), ("vm-file01", "file_copy")):
        result = restore(site, vm, backup=name)
        assert result["backup"] == name and result["backup_type"] == "crash"
        assert any("(crash)" in action for action in result["actions"])
        assert [plan["method"] for plan in result["luns"]] == [method]
        assert result["vm"]["state"] == "Running" and result["restore_warnings"] == []
        assert (read(lab, vm, LEDGER), read(lab, vm, JOURNAL)) == held[vm]
    assert read(lab, "vm-file02", LEDGER) == ("vm-file02: neighbour, later", True)  # J:'s other VM untouched
    assert leftovers(lab) == []


def test_vss_provider_restore_uses_the_second_snapshot(site, lab):
    prepare(lab, ["vm-file02"])
    backup = site.backup("hv03", "provider", backup_method="vss_provider")
    assert backup["backup"]["status"] == "ok" and backup["backup"]["method"] == "vss_provider", backup
    name = backup["backup"]["name"]
    damage(lab, ["vm-file02"])
    result = restore(site, "vm-file02", backup=name)
    assert result["backup_type"] == "application"
    assert [(plan["method"], plan["snapshot"]) for plan in result["luns"]] == [("file_copy", name + "_backup")]
    assert read(lab, "vm-file02", LEDGER) == ("vm-file02: ledger at backup", True)
    assert read(lab, "vm-file02", JOURNAL) == (IN_FLIGHT, True)  # the Hyper-V writer had the guest flush
    assert leftovers(lab) == []
