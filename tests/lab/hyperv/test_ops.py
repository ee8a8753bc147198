"""Each op over the hand-built world: result shapes (checked in `call` against agent.RESULT_SCHEMAS),
semantics the engines rely on, error codes, faults, and hostile names travelling as data."""
from __future__ import annotations

import base64
import gzip
import uuid

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import decode_file_names
from smhv_lab.winrm.executor import PipelineCommand

VM1_ID = "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"
HOSTILE_NAMES = [
    "a'; Remove-VM *; '",
    "$(Stop-Computer -Force)",
    "back`tick`$x",
    "semi;colon & pipe | amp",
    "new\nline\r\nname",
    "quote\"double\" and 'single'",
    "unicode-\u00e9\u00e8-\u4e2d\u6587-\U0001f600",
    "[wild]*card?",
]


def test_host_facts(call, world):
    facts = call("host_facts")["result"]
    assert facts["os"] == {"caption": "Microsoft Windows Server 2022 Datacenter", "version": "10.0.20348",
                           "build": 20348, "ubr": 2700}
    assert facts["cluster"] is None and facts["netapp_vss_provider"] is True
    assert facts["hotfixes"] == ["KB5031364"] and "Hyper-V" in facts["features"]
    services = {s["name"]: s for s in facts["services"]}
    assert services["vmms"]["status"] == "Running" and services["OnCommandHyperV"]["installed"] is False
    (rule,) = facts["firewall_rules"]
    assert rule["matched_ports"] == [808, 4094, 4095] and rule["local_ports"] == ["808", "4094-4095"]
    assert facts["initiator_ports"] == [{"node_address": world.hosts["hv1"].iscsi_iqn, "connection_type": "iSCSI"}]
    assert facts["registry"] == [{"key": "HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\HV1",
                                  "values": {"snapinfo_snaps_count": 30}}]
    assert call("host_facts", {"firewall_ports": [4095]})["result"]["firewall_rules"][0]["matched_ports"] == [4095]


def test_vm_inventory_maps_every_file_to_the_lun(call, lun):
    (vm,) = call("vm_inventory", {"ids": [VM1_ID.upper()]})["result"]["vms"]
    assert vm["id"] == VM1_ID and vm["state"] == "Running" and vm["clustered"] is False
    assert vm["config_path"] == f"J:\\vm1\\Virtual Machines\\{VM1_ID.upper()}.vmcx"
    assert [d["path"] for d in vm["hard_disks"]] == [
        "J:\\vm1\\Virtual Hard Disks\\vm1.vhdx", "J:\\vm1\\Virtual Hard Disks\\data_disk1.vhdx"]
    assert [f["kind"] for f in vm["files"]] == ["config", "vhd", "vhd"]
    for file in vm["files"]:
        assert file["storage"]["disk_serial"] == lun.serial and file["storage"]["netapp_lun"] is True
        assert file["storage"]["access_path"] == "J:\\" and file["storage"]["volume_id"] == lun.content.volume_guid


def test_vm_inventory_missing_vms(call):
    answer = call("vm_inventory", {"names": ["vm1", "ghost"], "ids": [str(uuid.uuid4())]})
    assert answer["ok"] is False and answer["error"]["code"] == "VM_NOT_FOUND"
    assert answer["error"]["details"]["names"] == ["ghost"]
    result = call("vm_inventory", {"names": ["VM1", "ghost"], "require_all": False})["result"]
    assert [v["name"] for v in result["vms"]] == ["vm1"] and result["missing"]["names"] == ["ghost"]


def test_path_info(call, lun):
    paths = ["J:\\vm1", "J:\\nothing\\here.txt", "C:\\Windows", "Q:\\x", "\\\\filer\\share\\vm.vhdx"]
    info = {p["path"]: p for p in call("path_info", {"paths": paths})["result"]["paths"]}
    assert info["J:\\vm1"]["exists"] and info["J:\\vm1"]["is_directory"]
    assert info["J:\\nothing\\here.txt"]["exists"] is False
    assert info["J:\\nothing\\here.txt"]["storage"]["disk_serial"] == lun.serial
    assert info["C:\\Windows"]["storage"]["netapp_lun"] is False and info["C:\\Windows"]["storage"]["disk_number"] == 0
    assert info["Q:\\x"]["storage"]["access_path"] is None
    assert info["\\\\filer\\share\\vm.vhdx"]["storage"]["is_smb"] is True


def test_file_write_is_idempotent_and_honours_check_mode(call, world):
    args = {"path": "J:\\SnapInfo\\datasets\\gold.json", "content": "{\"vms\": []}", "create_dirs": True}
    assert call("file_write", args, check_mode=True)["changed"] is True
    assert call("file_read", {"paths": [args["path"]], "missing_ok": True})["result"]["files"][0]["exists"] is False
    first = call("file_write", args)
    assert first["changed"] is True and first["result"]["size"] == 11
    assert call("file_write", args)["changed"] is False
    (read,) = call("file_read", {"paths": [args["path"]]})["result"]["files"]
    assert read["content"] == args["content"] and read["sha256"] == first["result"]["sha256"]


def test_file_write_errors(call):
    answer = call("file_write", {"path": "J:\\no\\such\\dir\\x.json", "content": "x"})
    assert answer["error"]["code"] == "PATH_NOT_FOUND"
    assert call("file_write", {"path": "J:\\", "content": "x"})["error"]["code"] == "BAD_REQUEST"
    assert call("file_write", {"path": "relative\\x", "content": "x"})["error"]["code"] == "BAD_REQUEST"
    assert call("file_write", {"path": "J:\\x", "content": "%%", "encoding": "base64"})["error"]["code"] == "BAD_REQUEST"
    assert call("file_read", {"paths": ["J:\\absent.txt"]})["error"]["code"] == "FILE_NOT_FOUND"


def test_file_write_compare_and_swap(call):
    path = "J:\\SnapInfo\\leases\\hvc1.json"
    created = call("file_write", {"path": path, "content": "one", "create_dirs": True, "create_only": True})
    assert created["changed"] is True and created["result"]["previous_sha256"] is None
    first = created["result"]["sha256"]
    again = call("file_write", {"path": path, "content": "one", "create_only": True})
    assert again["error"]["code"] == "WRITE_CONFLICT" and again["error"]["details"]["actual_sha256"] == first
    swapped = call("file_write", {"path": path, "content": "two", "expected_sha256": first.upper()})
    assert swapped["changed"] is True and swapped["result"]["previous_sha256"] == first
    stale = call("file_write", {"path": path, "content": "three", "expected_sha256": first}, check_mode=True)
    assert stale["error"]["code"] == "WRITE_CONFLICT" and stale["error"]["details"]["actual_sha256"] == swapped["result"]["sha256"]
    assert "expected sha256 %s, found sha256 %s" % (first, swapped["result"]["sha256"]) in stale["error"]["message"]
    (read,) = call("file_read", {"paths": [path]})["result"]["files"]
    assert read["content"] == "two"
    gone = call("file_write", {"path": "J:\\SnapInfo\\absent.json", "content": "x", "expected_sha256": first})
    assert gone["error"]["code"] == "WRITE_CONFLICT" and gone["error"]["details"]["actual_sha256"] is None
    unchanged = call("file_write", {"path": path, "content": "two", "expected_sha256": swapped["result"]["sha256"]})
    assert unchanged["changed"] is False and unchanged["result"]["previous_sha256"] == swapped["result"]["sha256"]
    assert call("file_write", {"path": path, "content": "x", "expected_sha256": "abc"})["error"]["code"] == "BAD_REQUEST"
    both = call("file_write", {"path": path, "content": "x", "expected_sha256": first, "create_only": True})
    assert both["error"]["code"] == "BAD_REQUEST"


def test_fenced_file_write_and_delete_need_the_lease_token(call):
    lease = "J:\\SnapInfo\\leases\\hvc1.json"
    call("file_write", {"path": lease, "content": '{"token": "mine", "released": false}', "create_dirs": True})
    fence = {"fence_path": lease, "fence_token": "mine"}
    record = "J:\\SnapInfo\\backups\\b1.json"
    assert call("file_write", dict(fence, path=record, content="r", create_dirs=True, create_only=True))["changed"] is True
    call("file_write", {"path": lease, "content": '{"token": "theirs", "released": false}'})  # taken over
    lost = call("file_write", dict(fence, path=record, content="r2"))
    assert lost["error"]["code"] == "LEASE_LOST" and lost["error"]["details"]["found_token"] == "theirs"
    assert call("file_delete", dict(fence, paths=[record]))["error"]["code"] == "LEASE_LOST"
    call("file_write", {"path": lease, "content": '{"token": "mine", "released": true}'})
    assert call("file_delete", dict(fence, paths=[record]))["error"]["details"]["released"] is True
    (read,) = call("file_read", {"paths": [record]})["result"]["files"]
    assert read["content"] == "r"  # nothing changed
    call("file_write", {"path": lease, "content": '{"token": "mine", "released": false}'})
    assert call("file_delete", dict(fence, paths=[record]))["result"]["deleted"] == [record]
    half = call("file_write", {"path": record, "content": "x", "create_dirs": True, "fence_path": lease})
    assert half["error"]["code"] == "BAD_REQUEST"


def test_binary_content_round_trips_as_base64(call):
    data = bytes(range(256))
    call("file_write", {"path": "J:\\blob.bin", "content": base64.b64encode(data).decode(), "encoding": "base64"})
    (read,) = call("file_read", {"paths": ["J:\\blob.bin"], "encoding": "base64"})["result"]["files"]
    assert base64.b64decode(read["content"]) == data and read["size"] == 256


def test_file_list_and_delete(call):
    for name in ("a.json", "b.json", "sub\\c.json", "sub\\d.txt"):
        call("file_write", {"path": "J:\\cat\\" + name, "content": name, "create_dirs": True})
    listing = call("file_list", {"path": "J:\\cat", "filter": "*.json"})["result"]
    assert [e["name"] for e in listing["entries"]] == ["a.json", "b.json"]
    deep = call("file_list", {"path": "J:\\cat", "recurse": True})["result"]["entries"]
    assert [(e["path"], e["is_directory"]) for e in deep] == [
        ("J:\\cat\\a.json", False), ("J:\\cat\\b.json", False), ("J:\\cat\\sub", True),
        ("J:\\cat\\sub\\c.json", False), ("J:\\cat\\sub\\d.txt", False)]
    nothing = {"path": "J:\\nope", "exists": False, "format": "entries", "entries": [], "names": None}
    assert call("file_list", {"path": "J:\\nope"})["result"] == nothing
    assert call("file_delete", {"paths": ["J:\\cat\\sub"]})["error"]["code"] == "DIRECTORY_NOT_EMPTY"
    deleted = call("file_delete", {"paths": ["J:\\cat\\a.json", "J:\\cat\\sub", "J:\\gone"], "recurse": True})
    assert deleted["changed"] and deleted["result"] == {"deleted": ["J:\\cat\\a.json", "J:\\cat\\sub"],
                                                        "missing": ["J:\\gone"]}
    assert [e["name"] for e in call("file_list", {"path": "J:\\cat", "recurse": True})["result"]["entries"]] == ["b.json"]


def test_file_list_names_are_the_entries_relative_to_the_path(call):
    """format names/names_gzip: the same entries, in the same order, as relative paths (a directory's ending in '\\')."""
    for name in ("B.json", "a.json", "sub\\c.json", "sub\\deeper\\e.json", "sub.txt", "unicode-\u00e9.json"):
        call("file_write", {"path": "J:\\cat\\" + name, "content": name, "create_dirs": True})
    for recurse, pattern in ((True, "*"), (False, "*"), (True, "*.json"), (True, "s*")):
        args = {"path": "J:\\cat\\", "recurse": recurse, "filter": pattern}
        entries = call("file_list", args)["result"]["entries"]
        expected = [e["path"][len("J:\\cat\\"):] + ("\\" if e["is_directory"] else "") for e in entries]
        plain = call("file_list", dict(args, format="names"))["result"]
        assert (plain["format"], plain["entries"], plain["exists"]) == ("names", [], True)
        assert plain["names"].split("\n") == expected
        packed = call("file_list", dict(args, format="names_gzip"))["result"]
        assert gzip.decompress(base64.b64decode(packed["names"])).decode("utf-8") == plain["names"]
        assert decode_file_names(packed) == [(line.rstrip("\\"), line.endswith("\\")) for line in expected]
    deep = call("file_list", {"path": "J:\\cat", "recurse": True, "format": "names"})["result"]["names"]
    # Ordinal order of the upper-cased paths, as entries: '.' (0x2E) sorts before '\\' (0x5C).
    assert deep.split("\n") == ["a.json", "B.json", "sub\\", "sub.txt", "sub\\c.json", "sub\\deeper\\", "sub\\deeper\\e.json",
                                "unicode-\u00e9.json"]
    nothing = call("file_list", {"path": "J:\\nope", "format": "names_gzip"})["result"]
    assert nothing["exists"] is False and decode_file_names(nothing) == []
    assert call("file_list", {"path": "J:\\cat", "format": "names"}, )["result"]["names"] == "a.json\nB.json\nsub\\\nsub.txt\nunicode-\u00e9.json"
    assert call("file_list", {"path": "J:\\cat", "format": "csv"})["error"] == {
        "code": "BAD_REQUEST", "message": "Argument 'format' must be 'entries' or 'names' or 'names_gzip'.", "details": {"argument": "format"}}


def test_disk_rescan_finds_mapped_luns_and_drops_unmapped(call, world, lun):
    cluster = world.clusters["cl1"]
    new = cluster.create_lun("vol1", "lun_new", 10 * 1024 ** 3)
    cluster.map_lun(new.path, "ig_hv1")
    assert call("disk_rescan", check_mode=True)["changed"] is False
    answer = call("disk_rescan")
    assert answer["changed"] and answer["result"]["added"] == [new.serial]
    disk = next(d for d in answer["result"]["disks"] if d["serial"] == new.serial)
    assert (disk["online"], disk["offline_reason"], disk["number"]) == (False, "Policy", 2)
    assert answer["result"]["disks"][0]["netapp_lun"] is False  # the system disk
    cluster.lun_maps = [m for m in cluster.lun_maps if m.lun is not lun]
    assert call("disk_rescan")["result"]["removed"] == [lun.serial]


def test_request_errors(call, executor):
    assert call("host_facts", {"firewall_ports": "808"})["error"] == {
        "code": "BAD_REQUEST", "message": "Argument 'firewall_ports' must be a list of integers.",
        "details": {"argument": "firewall_ports"}}
    assert executor.run_request("hv1", '{"op": "format_c", "args": {}}')["error"]["code"] == "UNKNOWN_OP"
    assert executor.run_request("hv1", "not json")["error"]["code"] == "BAD_REQUEST"
    assert executor.run_request("hv1", '{"op": "host_facts", "args": [1]}')["error"]["code"] == "BAD_REQUEST"


def test_unexpected_errors_answer_agent_error(call, world):
    world.hosts["hv1"].disks.clear()  # J: is gone: writing there fails the way Windows does
    answer = call("file_write", {"path": "J:\\x.txt", "content": "x", "create_dirs": True})
    assert answer["error"]["code"] == "AGENT_ERROR" and answer["error"]["details"]["op"] == "file_write"


def test_agent_faults(call, faults, executor):
    faults.add("agent", "agent_error", match={"op": "vm_inventory"}, params={"code": "VSS_TIMEOUT", "message": "boom"})
    assert call("vm_inventory")["error"]["code"] == "VSS_TIMEOUT"
    assert call("vm_inventory")["ok"]  # fired once
    faults.add("agent", "drop", match={"op": "file_write"})
    request = agent.encode_request("file_write", {"path": "J:\\dropped.txt", "content": "x"}, False)
    result = executor.run_pipeline("hv1", [PipelineCommand(agent.AGENT_SCRIPT, True, [("Request", request)])], [])
    assert result.failed  # no answer came back ...
    assert call("file_read", {"paths": ["J:\\dropped.txt"]})["ok"]  # ... but the op ran


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_vm_names_are_data(call, add_vm, name):
    vm_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    add_vm(name, vm_id, "J:\\hostile\\" + vm_id)
    (vm,) = call("vm_inventory", {"names": [name]})["result"]["vms"]
    assert vm["name"] == name and vm["id"] == vm_id
    assert len(call("vm_inventory")["result"]["vms"]) == 2  # nothing else matched, nothing removed


@pytest.mark.parametrize("name", HOSTILE_NAMES[:4] + HOSTILE_NAMES[5:])
def test_hostile_file_names_and_content_are_data(call, name):
    path = "J:\\odd\\" + name.replace("\n", " ").replace("\r", " ").replace("*", "_").replace("?", "_").replace('"', "_")
    call("file_write", {"path": path, "content": name, "create_dirs": True})
    (read,) = call("file_read", {"paths": [path]})["result"]["files"]
    assert read["content"] == name
    assert call("file_list", {"path": "J:\\odd"})["result"]["entries"][0]["path"] == path
