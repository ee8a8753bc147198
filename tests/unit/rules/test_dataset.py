"""Dataset validation over vm_inventory-shaped VMs: each rule's problem names the VM, the path and the fix."""
from __future__ import annotations

import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.dataset import (
    DatasetView, check_csv_split, check_files_on_ontap, schedules_overlap, validate_dataset)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.schedule import parse_schedule

START = datetime.datetime(2026, 3, 14, tzinfo=datetime.timezone.utc)
CSV1 = {"access_path": "C:\\ClusterStorage\\Volume1\\", "volume_id": "\\\\?\\Volume{1111}\\", "disk_number": 3, "disk_serial": "80AbC1234567",
        "netapp_lun": True, "partition_style": "GPT", "is_csv": True, "csv_name": "Cluster Disk 1", "is_smb": False, "free_bytes": 1, "size_bytes": 2}


def storage(**changes):
    return dict(CSV1, **changes)


def vm(name, clustered=True, files=None, passthrough=(), vfc=()):
    files = files or [("C:\\ClusterStorage\\Volume1\\%s\\%s.vmcx" % (name, name), "config", storage()),
                      ("C:\\ClusterStorage\\Volume1\\%s\\disk0.vhdx" % name, "vhd", storage())]
    return {"id": "id-" + name, "name": name, "host": "hv01", "state": "Running", "generation": 2, "clustered": clustered,
            "cluster_group": name if clustered else None, "owner_node": "hv01", "configuration_location": "C:\\ClusterStorage\\Volume1\\" + name,
            "config_path": files[0][0], "snapshot_location": "C:\\ClusterStorage\\Volume1\\" + name, "checkpoint_type": "Production",
            "processor_count": 2, "memory_startup_bytes": 1 << 30, "operational_status": ["Ok"], "migration": "",
            "backup_integration_enabled": True, "hard_disks": [], "checkpoints": [], "ip_addresses": [],
            "passthrough_disks": [{"disk_number": n, "disk_serial": "80AbCpass%03d" % n, "controller_type": "SCSI", "controller_number": 0,
                                   "controller_location": n} for n in passthrough],
            "fibre_channel_hbas": [{"san_name": san, "wwnn_set_a": "C003FF0000FFFF00", "wwpn_set_a": "C003FF5E2A7B0000",
                                    "wwnn_set_b": "C003FF0000FFFF00", "wwpn_set_b": "C003FF5E2A7B0001"} for san in vfc],
            "files": [{"path": path, "kind": kind, "storage": where} for path, kind, where in files]}


def test_fixture_vms_have_the_agents_shape():
    assert agent.validate_result("vm_inventory", {"vms": [vm("a", passthrough=(5,), vfc=("fabric-a",))], "missing": {"names": [], "ids": []}}) == []


def test_a_clean_dataset_has_no_problems():
    assert validate_dataset([vm("a"), vm("b")]) == []


def test_file_on_a_local_disk_is_an_error_naming_vm_path_and_fix():
    local = storage(netapp_lun=False, is_csv=False, csv_name=None, disk_number=0, disk_serial="WD-123", access_path="D:\\")
    problems = check_files_on_ontap([vm("sql1", files=[("C:\\ClusterStorage\\Volume1\\sql1\\sql1.vmcx", "config", storage()),
                                                       ("D:\\VHD\\data.vhdx", "vhd", local)])])
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.code, problem.severity, problem.vm_name, problem.path) == ("NOT_ON_ONTAP", "error", "sql1", "D:\\VHD\\data.vhdx")
    assert "VM sql1 (id-sql1) on hv01: vhd file D:\\VHD\\data.vhdx is on disk 0 (serial WD-123), which is not an ONTAP LUN" in problem.message
    assert "Move-VMStorage" in problem.message


def test_missing_file_is_reported_as_on_no_disk():
    gone = storage(netapp_lun=False, is_csv=False, csv_name=None, disk_number=None, disk_serial=None, access_path=None, volume_id=None)
    problems = check_files_on_ontap([vm("a", files=[("C:\\gone.vmcx", "config", gone)])])
    assert "on no disk the host can see" in problems[0].message


def test_clustered_and_dedicated_vms_do_not_mix():
    problems = validate_dataset([vm("ha1"), vm("ha2"), vm("local1", clustered=False)])
    assert [p.code for p in problems] == ["DATASET_MIXES_CLUSTERED"]
    assert "clustered VMs (ha1, ha2) with dedicated VMs (local1)" in problems[0].message


def test_smb_and_san_vms_do_not_mix():
    smb = storage(is_smb=True, netapp_lun=False, is_csv=False, csv_name=None, disk_number=None, disk_serial=None, access_path=None)
    share = vm("web", files=[("\\\\svm1\\hyperv\\web\\web.vmcx", "config", smb), ("\\\\svm1\\hyperv\\web\\web.vhdx", "vhd", smb)])
    problems = validate_dataset([vm("sql"), share])
    assert [p.code for p in problems] == ["DATASET_MIXES_SMB_SAN"]
    assert "SMB shares (web) with VMs on SAN LUNs (sql)" in problems[0].message
    # A dataset of SMB VMs only is not refused by these rules.
    assert validate_dataset([share]) == []


def test_one_vm_on_both_smb_and_san_is_named():
    smb = storage(is_smb=True, netapp_lun=False, is_csv=False)
    both = vm("x", files=[("C:\\ClusterStorage\\Volume1\\x\\x.vmcx", "config", storage()), ("\\\\svm1\\share\\x.vhdx", "vhd", smb)])
    problems = validate_dataset([both])
    assert problems[0].vm_name == "x" and "\\\\svm1\\share\\x.vhdx" in problems[0].message


def test_mbr_lun_on_a_csv_is_refused():
    mbr = storage(partition_style="MBR")
    problems = validate_dataset([vm("a", files=[("C:\\ClusterStorage\\Volume1\\a\\a.vmcx", "config", mbr)])])
    assert [p.code for p in problems] == ["MBR_LUN_ON_CSV"]
    assert "CSV Cluster Disk 1, an MBR-partitioned LUN (serial 80AbC1234567); VMs on CSVs need GPT LUNs" in problems[0].message
    # MBR on a dedicated (non-CSV) LUN is fine.
    assert validate_dataset([vm("b", clustered=False, files=[("J:\\b\\b.vmcx", "config", storage(partition_style="MBR", is_csv=False))])]) == []


def test_pass_through_disks_are_a_warning_after_errors():
    local = storage(netapp_lun=False)
    problems = validate_dataset([vm("a", passthrough=(7,), files=[("D:\\a.vmcx", "config", local)])])
    assert [(p.code, p.severity) for p in problems] == [("NOT_ON_ONTAP", "error"), ("PASSTHROUGH_DISK_EXCLUDED", "warning")]
    assert "pass-through disk 7 (serial 80AbCpass007) at SCSI 0:7 is not in the backup" in problems[1].message


def test_a_virtual_fibre_channel_adapter_is_a_warning():
    (problem,) = validate_dataset([vm("a", vfc=("fabric-a",))])
    assert (problem.code, problem.severity, problem.vm_name) == ("VFC_DISK_EXCLUDED", "warning", "a")
    assert problem.message == ("VM a (id-a) on hv01: the LUNs of its virtual Fibre Channel adapter on SAN fabric-a (WWPN C003FF5E2A7B0000, "
                               "C003FF5E2A7B0001) are not in the backup; protect their data inside the guest, or move it to a VHDX on an "
                               "ONTAP LUN.")


def test_schedules_overlap_within_the_window():
    daily_2 = parse_schedule({"frequency": "daily", "at": "02:00"})
    daily_230 = parse_schedule({"frequency": "daily", "at": "02:30"})
    daily_5 = parse_schedule({"frequency": "daily", "at": "05:00"})
    hourly = parse_schedule({"frequency": "hourly", "minute": 45})
    assert schedules_overlap(daily_2, daily_230, START) == (START.replace(hour=2), START.replace(hour=2, minute=30))
    assert schedules_overlap(daily_2, daily_5, START) is None
    assert schedules_overlap(daily_5, hourly, START) is not None  # an hourly backup collides with everything


def test_vms_of_one_csv_split_across_overlapping_datasets_warn():
    mine = DatasetView("sql", (parse_schedule({"frequency": "daily", "at": "02:00"}),), (vm("sql1"),))
    overlapping = DatasetView("web", (parse_schedule({"frequency": "daily", "at": "02:15"}),), (vm("web1"), vm("web2")))
    apart = DatasetView("files", (parse_schedule({"frequency": "daily", "at": "12:00"}),), (vm("fs1"),))
    elsewhere_csv = storage(volume_id="\\\\?\\Volume{2222}\\", csv_name="Cluster Disk 2")
    other_csv = DatasetView("dev", (parse_schedule({"frequency": "daily", "at": "02:00"}),),
                            (vm("dev1", files=[("C:\\ClusterStorage\\Volume2\\dev1.vmcx", "config", elsewhere_csv)]),))
    problems = check_csv_split(mine, [mine, overlapping, apart, other_csv], START)
    assert [(p.code, p.severity) for p in problems] == [("CSV_SPLIT_OVERLAP", "warning")]
    assert "CSV Cluster Disk 1 holds VMs of dataset sql (sql1) and of dataset web (web1, web2)" in problems[0].message
    assert "2026-03-14T02:00:00+00:00 and 2026-03-14T02:15:00+00:00" in problems[0].message
    assert [p.code for p in validate_dataset(list(mine.vms), mine, [overlapping], START)] == ["CSV_SPLIT_OVERLAP"]
