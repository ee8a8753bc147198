"""A backup's pre- and post-scripts run on every member host (each node running a VM of the backup) or on the one
named, with SMHV's variables in their environment and arguments (the lab, real WinRM and ONTAP REST). The scripts
are in the lab's script language (lab/smhv_lab/hyperv/backup_ops.py): each writes what it was given to a file on the
host it ran on, which the test reads from the lab's world."""
from __future__ import annotations

from urllib.error import HTTPError

import yaml

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient
from e2e.backup_support import LabSite

SNAPINFO = "S:\\SnapInfo"
NODES = ("hv01", "hv02")
SCRIPT = "C:\\scripts\\{which}.cmd"
OUT = "C:\\scripts\\out"
# A line per run: which script, the variables from the environment, then the arguments as given.
BODY = "write C:\\scripts\\out\\{which}_%COMPUTERNAME%.txt {which} %VMSnapshot% %SnapInfoName% %SnapInfoSnapshot% args %1 %2\r\nexit 0\r\n"


def scripts(host=None):
    return {which: {"path": SCRIPT.format(which=which), "arguments": ["$VMSnapshot", "$SnapInfoSnapshot"], "host": host, "timeout": 60}
            for which in ("pre_script", "post_script")}


def written(lab, node):
    try:
        files = lab.control("GET", "/host-files?host=%s&path=%s" % (node, OUT.replace("\\", "%5C")))["files"]
    except HTTPError as error:
        assert error.code == 404
        return {}  # no output folder: no script ran there
    return {name.rsplit(".", 1)[0]: text.split() for name, text in files.items()}


def prepared(lab):
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "both", ["vm-web01", "vm-web02"])  # hv01 and hv02
    site.dataset("hvclus01", SNAPINFO, "one", ["vm-web01", "vm-app01"])  # hv01 only
    inventory = yaml.safe_load(lab.inventory.read_text())["all"]["vars"]
    for node in NODES:
        with HostClient(node, inventory["smhv_winrm"], inventory["smhv_host_addresses"]) as client:
            for which in ("pre_script", "post_script"):
                client.call("file_write", {"path": SCRIPT.format(which=which), "content": BODY.format(which=which), "create_dirs": True})
    return site


def test_scripts_run_on_every_member_host_or_the_one_named_with_their_variables(lab):
    site = prepared(lab)
    both = site.backup("hvclus01", "both", backup_method="checkpoint", **scripts())
    runs = {node: written(lab, node) for node in NODES}
    backup = both["backup"]
    for node in NODES:
        assert sorted(runs[node]) == ["post_script_%s" % node.upper(), "pre_script_%s" % node.upper()], runs
        for which in ("pre_script", "post_script"):
            line = runs[node]["%s_%s" % (which, node.upper())]
            assert line[:2] == [which, backup["name"]] and line[3:] == [backup["snapinfo_snapshot"], "args", backup["name"],
                                                                        backup["snapinfo_snapshot"]], line
    stamps = {runs[node]["%s_%s" % (which, node.upper())][2] for node in NODES for which in ("pre_script", "post_script")}
    assert len(stamps) == 1 and stamps.pop() in backup["name"]  # $SnapInfoName: the backup's time stamp, the same for all

    site = prepared(lab)
    site.backup("hvclus01", "one", backup_method="checkpoint", **scripts())
    assert sorted(written(lab, "hv01")) == ["post_script_HV01", "pre_script_HV01"] and written(lab, "hv02") == {}

    site = prepared(lab)
    site.backup("hvclus01", "one", backup_method="checkpoint", **scripts(host="hv02"))
    assert written(lab, "hv01") == {} and sorted(written(lab, "hv02")) == ["post_script_HV02", "pre_script_HV02"]
    lab.reset()
