"""The guest-data model: in-flight writes are torn on disk until a production checkpoint flushes
them; checkpoints add .avhdx layers next to each VHDX that take new writes and merge back on removal."""
from __future__ import annotations

import pytest

from smhv_lab.world.windows import (checkpoint_create, checkpoint_remove, flush_guest_writes, read_guest_data,
                                    read_vhdx, write_guest_data)

VM1_ID = "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"
BASE = "J:\\vm1\\Virtual Hard Disks\\vm1.vhdx"


def test_settled_and_in_flight_writes(world):
    write_guest_data(world, VM1_ID, "C:\\db\\orders.db", "orders-v1", in_flight=False)
    assert read_guest_data(world, VM1_ID, "c:\\DB\\orders.db") == ("orders-v1", True)
    write_guest_data(world, VM1_ID, "C:\\db\\orders.db", "orders-v2-long", in_flight=True)
    assert read_guest_data(world, VM1_ID, "C:\\db\\orders.db") == ("orders-", False)
    assert flush_guest_writes(world, VM1_ID) == 1
    assert read_guest_data(world, VM1_ID, "C:\\db\\orders.db") == ("orders-v2-long", True)
    write_guest_data(world, VM1_ID, "D:\\logs\\a.log", "log", in_flight=False)  # D: is the second disk
    assert read_guest_data(world, VM1_ID, "D:\\logs\\a.log") == ("log", True)
    assert read_guest_data(world, VM1_ID, "C:\\logs\\a.log") is None
    with pytest.raises(ValueError, match="no guest volume E:"):
        write_guest_data(world, VM1_ID, "E:\\x", "x")


def test_crash_copy_of_the_lun_holds_torn_data(world, lun):
    write_guest_data(world, VM1_ID, "C:\\db\\orders.db", "0123456789", in_flight=True)
    snapshot = lun.content.copy()  # what a storage snapshot taken now captures
    files = read_vhdx(snapshot.files.read("vm1\\Virtual Hard Disks\\vm1.vhdx"))["guest_files"]
    assert files["db\\orders.db"] == {"data": "01234", "complete": False}


def test_production_checkpoint_flushes_and_layers(world, call):
    write_guest_data(world, VM1_ID, "C:\\db\\orders.db", "flushed-by-vss", in_flight=True)
    checkpoint = checkpoint_create(world, VM1_ID, "smhv_backup")
    avhdx = checkpoint.differencing_disks[BASE]
    assert avhdx == f"J:\\vm1\\Virtual Hard Disks\\vm1_{checkpoint.id.upper()}.avhdx"
    host = world.hosts["hv1"]
    base = read_vhdx(host.read_file(world, BASE))["guest_files"]
    assert base["db\\orders.db"] == {"data": "flushed-by-vss", "complete": True}  # frozen, consistent
    write_guest_data(world, VM1_ID, "C:\\db\\orders.db", "after-checkpoint", in_flight=False)
    assert read_vhdx(host.read_file(world, BASE))["guest_files"]["db\\orders.db"]["data"] == "flushed-by-vss"
    assert read_guest_data(world, VM1_ID, "C:\\db\\orders.db") == ("after-checkpoint", True)

    (vm,) = call("vm_inventory", {"names": ["vm1"]})["result"]["vms"]
    assert vm["hard_disks"][0] == {"path": avhdx, "controller_type": "SCSI", "controller_number": 0,
                                   "controller_location": 0, "parent_paths": [BASE]}
    assert vm["checkpoints"] == [{"id": checkpoint.id, "name": "smhv_backup", "created": checkpoint.created}]
    kinds = [(f["kind"], f["path"]) for f in vm["files"]]
    assert ("checkpoint_config", f"J:\\vm1\\Snapshots\\{checkpoint.id.upper()}.vmcx") in kinds
    assert ("vhd", avhdx) in kinds and ("vhd", BASE) in kinds

    checkpoint_remove(world, VM1_ID, checkpoint.id)
    assert not host.file_exists(world, avhdx)
    assert read_vhdx(host.read_file(world, BASE))["guest_files"]["db\\orders.db"]["data"] == "after-checkpoint"
    (vm,) = call("vm_inventory", {"names": ["vm1"]})["result"]["vms"]
    assert vm["hard_disks"][0]["path"] == BASE and vm["checkpoints"] == []


def test_nested_checkpoints_merge_in_any_order(world):
    first = checkpoint_create(world, VM1_ID, "one")
    write_guest_data(world, VM1_ID, "C:\\a.txt", "one")
    second = checkpoint_create(world, VM1_ID, "two")
    write_guest_data(world, VM1_ID, "C:\\a.txt", "two")
    checkpoint_remove(world, VM1_ID, first.id)  # the older layer merges down; the newer one re-parents
    assert read_guest_data(world, VM1_ID, "C:\\a.txt") == ("two", True)
    host = world.hosts["hv1"]
    top = read_vhdx(host.read_file(world, next(iter(second.differencing_disks.values()))))
    assert top["parent"] == BASE
    checkpoint_remove(world, VM1_ID, second.id)
    assert read_vhdx(host.read_file(world, BASE))["guest_files"]["a.txt"]["data"] == "two"


def test_standard_checkpoint_and_missing_integration(world):
    write_guest_data(world, VM1_ID, "C:\\a.txt", "in-flight", in_flight=True)
    checkpoint_create(world, VM1_ID, "std", checkpoint_type="Standard")
    assert world.hosts["hv1"].vms[VM1_ID].pending_writes  # a standard checkpoint does not ask the guest to flush
    world.hosts["hv1"].vms[VM1_ID].integration_services["Backup (volume shadow copy)"] = False
    with pytest.raises(ValueError, match="backup integration service"):
        checkpoint_create(world, VM1_ID, "prod", checkpoint_type="ProductionOnly")
