"""The backup ops over the hand-built world: production checkpoints (flush, merge, by name), the VSS
provider backup (two snapshots per ONTAP volume, guests flushed), and the lab's script interpreter."""
from __future__ import annotations

from smhv_lab.world.windows import read_guest_data, read_vhdx, write_guest_data

VM1_ID = "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"
VM2_ID = "1a2b3c4d-0000-4000-8000-000000000002"
DB = "C:\\data\\x.db"


def test_checkpoint_create_is_production_only_and_flushes_the_guest(call, world):
    write_guest_data(world, VM1_ID, DB, "0123456789", in_flight=True)
    vm = world.hosts["hv1"].vms[VM1_ID]
    answer = call("checkpoint_create", {"ids": [VM1_ID.upper(), "00000000-0000-4000-8000-00000000dead"], "name": "ds_x"})
    assert answer["changed"] is True
    (checkpoint,) = answer["result"]["checkpoints"]
    assert checkpoint["vm_id"] == VM1_ID and checkpoint["name"] == "ds_x" and checkpoint["checkpoint_type"] == "Production"
    assert [f["code"] for f in answer["result"]["failures"]] == ["VM_NOT_FOUND"]
    assert [c.type for c in vm.checkpoints] == ["ProductionOnly"] and vm.checkpoint_type == "Production"
    # The write in flight landed complete in the frozen parent VHDX; new writes go to the .avhdx.
    parent = read_vhdx(world.hosts["hv1"].read_file(world, vm.vhd_paths[0]))
    assert parent["guest_files"]["data\\x.db"] == {"data": "0123456789", "complete": True}


def test_checkpoint_create_fails_per_vm_without_backup_integration(call, world, add_vm):
    add_vm("vm2", VM2_ID, "J:\\vm2", integration_services={"Backup (volume shadow copy)": False})
    answer = call("checkpoint_create", {"ids": [VM1_ID, VM2_ID], "name": "ds_x"})
    assert [c["vm_id"] for c in answer["result"]["checkpoints"]] == [VM1_ID]
    (failure,) = answer["result"]["failures"]
    assert failure["vm_id"] == VM2_ID and failure["code"] == "CHECKPOINT_FAILED" and "integration service" in failure["message"]
    assert world.hosts["hv1"].vms[VM2_ID].checkpoints == []


def test_checkpoint_check_mode_changes_nothing(call, world):
    answer = call("checkpoint_create", {"ids": [VM1_ID], "name": "ds_x"}, check_mode=True)
    assert answer["changed"] is True and answer["result"]["checkpoints"] == []
    assert world.hosts["hv1"].vms[VM1_ID].checkpoints == []


def test_checkpoint_remove_by_name_merges_and_is_idempotent(call, world):
    call("checkpoint_create", {"ids": [VM1_ID], "name": "ds_x"})
    write_guest_data(world, VM1_ID, DB, "after")
    answer = call("checkpoint_remove", {"ids": [VM1_ID], "name": "ds_x"})
    assert answer["changed"] is True and answer["result"]["missing"] == [] and len(answer["result"]["removed"]) == 1
    vm = world.hosts["hv1"].vms[VM1_ID]
    assert vm.checkpoints == [] and read_guest_data(world, VM1_ID, DB) == ("after", True)
    assert not any(name.endswith(".avhdx") for name in world.clusters["cl1"].lun_by_serial(
        next(iter(world.hosts["hv1"].disks))).content.files.listing())
    again = call("checkpoint_remove", {"ids": [VM1_ID], "name": "ds_x"})
    assert again["changed"] is False and again["result"]["missing"] == [VM1_ID]


def test_checkpoint_names_are_data(call):
    answer = call("checkpoint_create", {"ids": [VM1_ID], "name": "a'; Remove-VM *; '"})
    assert answer["ok"] is False and answer["error"]["code"] == "BAD_REQUEST"


def test_vss_backup_takes_a_pair_per_ontap_volume_after_flushing(call, world, lun):
    write_guest_data(world, VM1_ID, DB, "abcdef", in_flight=True)
    answer = call("vss_backup", {"ids": [VM1_ID], "volumes": ["J:\\"], "name": "ds_x"})
    assert answer["ok"] and answer["changed"]
    (copy,) = answer["result"]["shadow_copies"]
    assert copy["volume"] == "J:\\" and "Alias SMHV0 for shadow ID" in answer["result"]["output"]
    snapshots = lun.volume.snapshots
    assert [s.name for s in snapshots] == ["vss_%s" % copy["shadow_copy_id"].strip("{}").replace("-", ""),
                                           "vss_%s_ar" % copy["shadow_copy_id"].strip("{}").replace("-", "")]
    image = snapshots[0].luns[lun.name].content.files.read("vm1\\Virtual Hard Disks\\vm1.vhdx")
    assert read_vhdx(image)["guest_files"]["data\\x.db"] == {"data": "abcdef", "complete": True}


def test_vss_backup_needs_the_provider_and_clean_arguments(call, world):
    bad = call("vss_backup", {"ids": [VM1_ID], "volumes": ['J:\\" & del *'], "name": "ds_x"})
    assert bad["error"]["code"] == "BAD_REQUEST"
    world.hosts["hv1"].vss_providers.clear()
    missing = call("vss_backup", {"ids": [VM1_ID], "volumes": ["J:\\"], "name": "ds_x"})
    assert missing["error"]["code"] == "VSS_PROVIDER_MISSING"


def test_run_script_interprets_the_lab_script(call, world):
    host = world.hosts["hv1"]
    host.write_file(world, "C:\\scripts\\post.cmd", b"echo snapshot %VMSnapshot% args %*\r\n"
                    b"write C:\\out\\%1.txt %SnapInfoName%\r\nerror careful\r\nexit 3\r\necho never\r\n")
    answer = call("run_script", {"path": "C:\\scripts\\post.cmd", "arguments": ["first", "two words"],
                                 "environment": {"VMSnapshot": "ds_01-01-2026_00.00.00", "SnapInfoName": "01-01-2026_00.00.00"}})
    result = answer["result"]
    assert result["exit_code"] == 3 and result["stdout"] == "snapshot ds_01-01-2026_00.00.00 args first two words"
    assert result["stderr"] == "careful"
    assert host.read_file(world, "C:\\out\\first.txt") == b"01-01-2026_00.00.00"


def test_run_script_missing_timeout_and_bad_environment(call, world):
    assert call("run_script", {"path": "C:\\nope.cmd"})["error"]["code"] == "FILE_NOT_FOUND"
    world.hosts["hv1"].write_file(world, "C:\\slow.cmd", b"sleep 5\r\n")
    assert call("run_script", {"path": "C:\\slow.cmd", "timeout_seconds": 2})["error"]["code"] == "SCRIPT_TIMEOUT"
    assert call("run_script", {"path": "C:\\slow.cmd", "environment": {"A B": "x"}})["error"]["code"] == "BAD_REQUEST"
    assert call("run_script", {"path": "C:\\slow.cmd"}, check_mode=True)["result"]["exit_code"] == 0


def test_backup_checkpoint_inventories_then_checkpoints_the_running_vms(call, world, add_vm):
    add_vm("vm2", VM2_ID, "J:\\vm2", state="Off")
    write_guest_data(world, VM1_ID, DB, "0123456789", in_flight=True)
    stranger = "00000000-0000-4000-8000-00000000dead"
    answer = call("backup_checkpoint", {"ids": [VM1_ID.upper(), VM2_ID, stranger], "name": "ds_x", "allow_saved_state": True})
    assert answer["ok"] and answer["changed"] is True
    result = answer["result"]
    assert [vm["id"] for vm in result["vms"]] == [VM1_ID, VM2_ID] and result["missing"] == [stranger]
    assert result["outcomes"] == [{"vm_id": VM1_ID, "outcome": "online"}, {"vm_id": VM2_ID, "outcome": "offline"}]
    (checkpoint,) = result["checkpoints"]
    assert checkpoint["vm_id"] == VM1_ID and checkpoint["name"] == "ds_x" and result["failures"] == []
    # The inventory describes the VM before its checkpoint: the base disk, no checkpoint yet.
    vm1 = result["vms"][0]
    assert vm1["checkpoints"] == [] and vm1["hard_disks"][0]["path"].endswith(".vhdx")
    vm = world.hosts["hv1"].vms[VM1_ID]
    assert [c.name for c in vm.checkpoints] == ["ds_x"] and world.hosts["hv1"].vms[VM2_ID].checkpoints == []
    parent = read_vhdx(world.hosts["hv1"].read_file(world, vm.vhd_paths[0]))
    assert parent["guest_files"]["data\\x.db"] == {"data": "0123456789", "complete": True}


def test_backup_checkpoint_refused_vm_means_no_checkpoint_on_the_host(call, world, add_vm):
    add_vm("vm2", VM2_ID, "J:\\vm2", state="Saved")
    answer = call("backup_checkpoint", {"ids": [VM1_ID, VM2_ID], "name": "ds_x"})
    assert answer["ok"] and answer["changed"] is False
    assert [o["outcome"] for o in answer["result"]["outcomes"]] == ["online", "refused"]
    assert answer["result"]["checkpoints"] == [] and world.hosts["hv1"].vms[VM1_ID].checkpoints == []


def test_backup_checkpoint_skips_migrating_vms_and_takes_data_only(call, world):
    world.hosts["hv1"].vms[VM1_ID].migration = "live"
    answer = call("backup_checkpoint", {"ids": [VM1_ID], "name": "ds_x"})
    assert answer["result"]["outcomes"] == [{"vm_id": VM1_ID, "outcome": "skipped"}] and answer["result"]["checkpoints"] == []
    bad = call("backup_checkpoint", {"ids": ["'; Remove-VM *; '"], "name": "ds_x"})
    assert bad["error"]["code"] == "BAD_REQUEST"
    assert call("backup_checkpoint", {"ids": [VM1_ID], "name": "a b"})["error"]["code"] == "BAD_REQUEST"


def test_backup_checkpoint_check_mode_changes_nothing(call, world):
    answer = call("backup_checkpoint", {"ids": [VM1_ID], "name": "ds_x"}, check_mode=True)
    assert answer["changed"] is True and answer["result"]["checkpoints"] == [] and len(answer["result"]["vms"]) == 1
    assert world.hosts["hv1"].vms[VM1_ID].checkpoints == []


def test_run_script_refuses_what_cmd_exe_would_interpret_in_a_cmd_or_bat_script(call, world):
    """Windows runs .cmd/.bat through cmd.exe, which acts on & | < > ^ ( ) and quotes and expands %NAME% even in
    quotes: such arguments are refused before the script runs (the agent's Assert-SmhvCmdSafeScript)."""
    host = world.hosts["hv1"]
    for name in ("post.cmd", "post.bat", "POST.CMD", "ps.ps1", "tool.exe"):
        host.write_file(world, "C:\\scripts\\" + name, b"write C:\\out\\%1.txt ran\r\n")
    for path in ("C:\\scripts\\post.cmd", "C:\\scripts\\post.bat", "C:\\scripts\\POST.CMD", "C:\\scripts\\post.cmd. "):
        for bad in ("a&calc", "a|b", "a>b", "a<b", "a^b", "%PATH%", "!X!", 'a"b', "a(b)", "line\nbreak"):
            answer = call("run_script", {"path": path, "arguments": ["fine", bad]})
            assert answer["error"]["code"] == "BAD_REQUEST", (path, bad)
            assert answer["error"]["details"] == {"argument": "arguments", "position": 2, "path": path}
            assert "cmd.exe interprets" in answer["error"]["message"]
    assert call("run_script", {"path": "C:\\scripts\\100%.cmd"})["error"]["details"]["argument"] == "path"
    for path in ("C:\\scripts\\ps.ps1", "C:\\scripts\\tool.exe"):
        assert call("run_script", {"path": path, "arguments": ["a&b"]})["ok"] is True
    # Plain values (blanks too: they are quoted) still reach a .cmd script.
    assert call("run_script", {"path": "C:\\scripts\\post.cmd", "arguments": ["ds_01-01-2026_00.00.00", "two words"]})["ok"] is True
    assert host.read_file(world, "C:\\out\\ds_01-01-2026_00.00.00.txt") == b"ran"


def test_run_script_timeout_is_bounded(call, world):
    world.hosts["hv1"].write_file(world, "C:\\quick.cmd", b"exit 0\r\n")
    for bad in (0, 86401, 10 ** 30):
        answer = call("run_script", {"path": "C:\\quick.cmd", "timeout_seconds": bad})
        assert answer["error"]["code"] == "BAD_REQUEST" and "between 1 and 86400" in answer["error"]["message"]
    assert call("run_script", {"path": "C:\\quick.cmd", "timeout_seconds": 86400})["result"]["exit_code"] == 0
