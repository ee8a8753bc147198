"""The lab's drive letters (disk_connect): a letter another volume has (C:, or an online disk's) is refused with
DRIVE_LETTER_IN_USE, as Add-PartitionAccessPath refuses it on Windows; assign_drive_letter gives the first free letter
from D: and keeps one the volume has; a letter asked for replaces the volume's other one; disk_disconnect removes it."""
from __future__ import annotations

import pytest

HOST = "hv1"  # tests/lab/hyperv/conftest.py's world: the LUN at J:\\


@pytest.fixture
def clone(world, lun):
    cluster = world.clusters["cl1"]
    made = cluster.clone_lun(lun.path, "/vol/vol1/lun_j_clone")
    cluster.map_lun(made.path, "ig_hv1")
    return made


def letters(answer):
    return [path for path in answer["result"]["disk"]["access_paths"] if len(path) == 3]


@pytest.mark.parametrize("taken", ["J:\\", "c:\\"])
def test_a_letter_another_volume_has_is_refused(call, world, clone, taken):
    refused = call("disk_connect", {"serial": clone.serial, "access_path": taken})
    assert not refused["ok"] and refused["error"]["code"] == "DRIVE_LETTER_IN_USE"
    assert refused["error"]["details"] == {"drive_letter": taken[0].upper()}
    assert world.hosts[HOST].disks[clone.serial].access_paths == []


def test_a_free_letter_is_kept_and_a_letter_asked_for_replaces_it(call, world, clone):
    first = call("disk_connect", {"serial": clone.serial, "assign_drive_letter": True})
    assert first["ok"] and first["changed"] and letters(first) == ["D:\\"]
    again = call("disk_connect", {"serial": clone.serial, "assign_drive_letter": True})
    assert again["ok"] and not again["changed"] and letters(again) == ["D:\\"]
    asked = call("disk_connect", {"serial": clone.serial, "access_path": "X:\\"})
    assert asked["ok"] and asked["changed"] and letters(asked) == ["X:\\"]
    same = call("disk_connect", {"serial": clone.serial, "access_path": "x:\\"})  # case does not matter
    assert same["ok"] and not same["changed"]
    gone = call("disk_disconnect", {"serial": clone.serial})
    assert gone["result"]["removed_access_paths"] == ["X:\\"] and world.hosts[HOST].disks[clone.serial].access_paths == []


def test_no_free_letter(call, world, clone, lun):
    host = world.hosts[HOST]
    host.disks[lun.serial].access_paths = ["J:\\"] + ["%s:\\" % chr(code) for code in range(ord("D"), ord("Z") + 1) if chr(code) != "J"]
    refused = call("disk_connect", {"serial": clone.serial, "assign_drive_letter": True})
    assert not refused["ok"] and refused["error"]["code"] == "DRIVE_LETTER_IN_USE" and "No drive letter is free" in refused["error"]["message"]
