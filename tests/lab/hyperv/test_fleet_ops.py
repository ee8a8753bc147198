"""The lab's fleet ops: result shapes, firewall rules found by Name, installers judged by their
arguments (order, silent switches, passwords), hotfixes from a share, and reboots that take the host
down for a while."""
from __future__ import annotations

import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.package import (
    SECRET_SAFE_LOG, VERBOSE_LOG, setup_arguments, smhv_properties)
from smhv_lab.hyperv.fleet_ops import host_power

SHARE = "\\\\fs01\\software"


@pytest.fixture
def fleet_world(world):
    world.settings = {"software_share": {"root": SHARE, "files": [
        {"path": "SD\\SnapDrive7.1.5_x64.exe", "product": "NetApp SnapDrive", "version": "7.1.5"},
        {"path": "SMHV\\SMHV-2.1.4-x64.exe", "product": "NetApp SnapManager for Hyper-V", "version": "2.1.4"},
        {"path": "Updates\\windows10.0-kb5034770-x64.msu", "kb": "KB5034770", "build": 20348, "ubr": 2322},
        {"path": "Updates\\windows10.0-kb5034768-x64.msu", "kb": "KB5034768", "build": 17763, "ubr": 5458}]},
        "reboot_seconds": 0.5}
    return world


def ok(answer, op):
    assert answer["ok"], answer
    assert agent.validate_result(op, answer["result"]) == []
    return answer


def install_args(product, password="pw", **extra):
    options = {"service_username": "LAB\\svc", "service_password": password, "tcp_port": 808, "license_type": "storage"}
    if product == "sd":
        props = [("SVCUSERNAME", "LAB\\svc"), ("SVCUSERPASSWORD", password), ("SVCCONFIRMUSERPASSWORD", password)]
        return {"path": SHARE + "\\SD\\SnapDrive7.1.5_x64.exe", "arguments": setup_arguments(props, "C:\\l.log", **extra)}
    return {"path": SHARE + "\\SMHV\\SMHV-2.1.4-x64.exe", "arguments": setup_arguments(smhv_properties(options), "C:\\l.log", **extra)}


def test_firewall_rule_created_corrected_and_removed_by_name(call, fleet_world):
    rule = {"name": "NetApp-SMHV-NetTcp", "display_name": "SMHV", "ports": [808], "profile": "Domain"}
    planned = ok(call("firewall_rule_ensure", rule, check_mode=True), "firewall_rule_ensure")
    assert planned["changed"] and planned["result"]["before"] is None and planned["result"]["after"] is None
    created = ok(call("firewall_rule_ensure", rule), "firewall_rule_ensure")
    assert created["result"]["after"]["local_ports"] == ["808"] and created["result"]["after"]["profile"] == "Domain"
    assert not call("firewall_rule_ensure", rule)["changed"]
    moved = ok(call("firewall_rule_ensure", dict(rule, ports=[809])), "firewall_rule_ensure")
    assert moved["changed"] and moved["result"]["before"]["local_ports"] == ["808"] and moved["result"]["after"]["local_ports"] == ["809"]
    assert call("host_facts", {"firewall_ports": [809]})["result"]["firewall_rules"][0]["name"] == "NetApp-SMHV-NetTcp"
    removed = ok(call("firewall_rule_ensure", {"name": "NetApp-SMHV-NetTcp", "state": "absent"}), "firewall_rule_ensure")
    assert removed["changed"] and removed["result"]["after"] is None
    assert call("firewall_rule_ensure", {"name": "x", "ports": []})["error"]["code"] == "BAD_REQUEST"


def test_smhv_needs_snapdrive_first_and_a_silent_command_line(call, fleet_world):
    host = fleet_world.hosts["hv1"]
    assert call("installer_run", install_args("smhv"))["error"]["code"] == "INSTALLER_FAILED"
    ok(call("installer_run", install_args("sd")), "installer_run")
    assert host.installed_software["NetApp SnapDrive"]["version"] == "7.1.5"
    again = call("installer_run", install_args("sd"))
    assert again["error"]["details"]["exit_code"] == 1638  # another version is installed: upgrade switches needed
    noisy = install_args("smhv")
    noisy["arguments"] = ["/s", noisy["arguments"][1].replace("/qn", "/qb")]
    assert call("installer_run", noisy)["error"]["code"] == "PROCESS_TIMEOUT"
    ok(call("installer_run", install_args("smhv", password='a "b" c')), "installer_run")
    assert host.installed_software["NetApp SnapManager for Hyper-V"]["license"] == "storage"
    assert host.services["OnCommandHyperV"]["status"] == "Running"
    info = ok(call("package_info", {"products": ["NetApp"], "installers": [SHARE + "\\SMHV\\SMHV-2.1.4-x64.exe", SHARE + "\\nope.exe"]}),
              "package_info")["result"]
    assert [p["name"] for p in info["installed"]] and {p["name"] for p in info["installed"]} == {
        "NetApp SnapDrive", "NetApp SnapManager for Hyper-V"}
    assert [i["exists"] for i in info["installers"]] == [True, False]
    codes = {p["name"]: p["product_code"] for p in info["installed"]}
    refused = call("installer_run", {"path": "msiexec.exe", "arguments": ["/x", codes["NetApp SnapDrive"], "/qn"]})
    assert refused["error"]["code"] == "INSTALLER_FAILED"  # SMHV still needs it
    for name in ("NetApp SnapManager for Hyper-V", "NetApp SnapDrive"):
        ok(call("installer_run", {"path": "msiexec.exe", "arguments": ["/x", codes[name], "/qn", "/norestart"]}), "installer_run")
    assert host.installed_software == {} and "OnCommandHyperV" not in host.services


def test_mismatched_password_confirmation_fails_like_the_installer(call, fleet_world):
    args = install_args("sd")
    args["arguments"][1] = args["arguments"][1].replace('SVCCONFIRMUSERPASSWORD="pw"', 'SVCCONFIRMUSERPASSWORD="other"')
    assert call("installer_run", args)["error"]["details"]["exit_code"] == 1603


def test_hotfix_from_share_waits_for_reboot_then_host_goes_down_and_comes_back(call, fleet_world):
    host = fleet_world.hosts["hv1"]  # Windows Server 2022, UBR 2700 by default
    host.ubr = 2113
    wrong = ok(call("hotfix_install", {"kb": "KB5034768", "source": SHARE + "\\Updates"}), "hotfix_install")
    assert wrong["result"]["outcome"] == "not_applicable" and "KB5034768" not in host.hotfixes
    planned = ok(call("hotfix_install", {"kb": "KB5034770", "source": SHARE + "\\Updates"}, check_mode=True), "hotfix_install")
    assert planned["result"]["outcome"] == "would_install" and host.ubr == 2113
    done = ok(call("hotfix_install", {"kb": "KB5034770", "source": SHARE + "\\Updates"}), "hotfix_install")["result"]
    assert done["outcome"] == "installed" and done["reboot_required"] and done["exit_code"] == 3010
    assert host.ubr == 2113 and ok(call("host_boot_info", {}), "host_boot_info")["result"]["reboot_pending"]
    missing = call("hotfix_install", {"kb": "KB1234567", "source": SHARE + "\\Updates"})
    assert missing["error"]["code"] == "HOTFIX_FILE_NOT_FOUND"
    boot = ok(call("host_reboot", {"reason": "test"}), "host_reboot")["result"]
    assert host_power(fleet_world, "hv1") == (True, 0)  # the answer gets out before the host goes down
    time.sleep(1.1)
    assert host_power(fleet_world, "hv1") == (False, 0)
    time.sleep(0.6)
    assert host_power(fleet_world, "hv1") == (True, 1)
    after = call("host_boot_info", {})["result"]
    assert after["last_boot_time"] != boot["last_boot_time"] and not after["reboot_pending"]
    assert host.ubr == 2322


def test_prerequisites_install_claim_and_start(call, fleet_world):
    host = fleet_world.hosts["hv1"]
    host.features.discard("Multipath-IO")
    host.services["MSiSCSI"] = {"status": "Stopped", "start_type": "Manual"}
    args = {"features": ["Hyper-V-PowerShell", "Multipath-IO"], "mpio_vendor_id": "NETAPP", "mpio_product_id": "LUN C-Mode",
            "services": ["MSiSCSI"]}
    planned = ok(call("prerequisites_ensure", args, check_mode=True), "prerequisites_ensure")
    assert planned["changed"] and "Multipath-IO" not in host.features
    done = ok(call("prerequisites_ensure", args), "prerequisites_ensure")["result"]
    assert done["restart_needed"] and done["mpio"]["claimed"] and done["services"][0]["status"] == "Running"
    assert not call("prerequisites_ensure", args)["changed"]
    assert call("prerequisites_ensure", {"features": ["Not-A-Feature"]})["error"]["code"] == "BAD_REQUEST"
    assert call("prerequisites_ensure", {"services": ["nosuch"]})["error"]["code"] == "SERVICE_NOT_FOUND"


def test_no_secret_reaches_the_installer_log(call, fleet_world):
    """Windows Installer writes the command line and every property's value into a verbose log; with a service
    password or a license key on the command line, setup_arguments asks for errors and warnings only."""
    host = fleet_world.hosts["hv1"]
    secret = "S3cr3t-pw!"
    options = {"service_username": "LAB\\svc", "service_password": secret, "tcp_port": 808, "license_type": "host",
               "license_key": "LIC-KEY-0042"}
    sd = [("SVCUSERNAME", "LAB\\svc"), ("SVCUSERPASSWORD", secret), ("SVCCONFIRMUSERPASSWORD", secret)]
    ok(call("installer_run", {"path": SHARE + "\\SD\\SnapDrive7.1.5_x64.exe",
                              "arguments": setup_arguments(sd, "C:\\Windows\\Temp\\sd.log")}), "installer_run")
    ok(call("installer_run", {"path": SHARE + "\\SMHV\\SMHV-2.1.4-x64.exe",
                              "arguments": setup_arguments(smhv_properties(options), "C:\\Windows\\Temp\\smhv.log")}), "installer_run")
    for log in ("C:\\Windows\\Temp\\sd.log", "C:\\Windows\\Temp\\smhv.log"):
        text = host.read_file(fleet_world, log).decode("utf-8")
        assert "Logging started" in text and secret not in text and "LIC-KEY-0042" not in text and "SVCUSERNAME" not in text
    # The verbose log asked for before (/L*v) is where the lab, like Windows Installer, writes the password.
    old = setup_arguments(sd, "C:\\Windows\\Temp\\old.log", upgrade=True)
    old[1] = old[1].replace(SECRET_SAFE_LOG, VERBOSE_LOG)
    ok(call("installer_run", {"path": SHARE + "\\SD\\SnapDrive7.1.5_x64.exe", "arguments": old}), "installer_run")
    verbose = host.read_file(fleet_world, "C:\\Windows\\Temp\\old.log").decode("utf-8")
    assert "Command Line:" in verbose and "Property(S): SVCUSERPASSWORD = " + secret in verbose
