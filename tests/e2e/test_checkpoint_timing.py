"""A backup through the lab spends Hyper-V's checkpoint and merge time (hyperv/timing.py; real WinRM and ONTAP
REST): the agent checkpoints a node's VMs one after another, so a node's checkpoint call lasts a checkpoint's time
per VM and its merge call a merge's time per VM, and the backup reports how long the VMs stayed checkpointed.
Short durations keep the test fast; benchmarks/checkpoint_window.py measures the realistic profile."""
from __future__ import annotations

from e2e.backup_support import LabSite

SNAPINFO = "S:\\SnapInfo"
VMS = ["vm-web01", "vm-app01", "vm-db01", "vm-web02"]  # three running on hv01, one on hv02
CREATE, MERGE = 0.4, 0.2


def test_a_backup_spends_each_vms_checkpoint_and_merge_time(lab):
    lab.control("DELETE", "/faults")
    lab.reset()
    try:
        site = LabSite(lab)
        site.register("hvclus01", SNAPINFO)
        site.dataset("hvclus01", SNAPINFO, "timed", VMS)
        timing = lab.control("POST", "/hyperv-timing", {"durations": {"checkpoint.create": CREATE, "checkpoint.remove": MERGE}})
        assert timing["hv01"]["profile"] == "instant" and timing["hv01"]["durations"]["checkpoint.create"] == CREATE
        lab.control("DELETE", "/agent-requests")
        result = site.backup("hvclus01", "timed", backup_method="checkpoint")
        calls = {(r["op"], r["host"]): r["seconds"] for r in lab.control("GET", "/agent-requests")["requests"]
                 if r["op"] in ("backup_checkpoint", "checkpoint_remove")}
    finally:
        lab.reset()
    assert {vm["name"]: (vm["host"], vm["outcome"]) for vm in result["vms"]} == {
        "vm-web01": ("hv01", "online"), "vm-app01": ("hv01", "online"), "vm-db01": ("hv01", "online"), "vm-web02": ("hv02", "online")}
    assert 3 * CREATE <= calls[("backup_checkpoint", "hv01")] < 3 * CREATE + 1.0
    assert CREATE <= calls[("backup_checkpoint", "hv02")] < CREATE + 1.0
    assert 3 * MERGE <= calls[("checkpoint_remove", "hv01")] < 3 * MERGE + 1.0
    steps = {step["step"]: step["seconds"] for step in result["timings"]["steps"]}
    assert steps["checkpoint"] >= 3 * CREATE and steps["release_checkpoints"] >= 3 * MERGE  # the slowest node sets the pace
    lifetimes = result["timings"]["checkpoint_seconds_per_host"]
    assert lifetimes["hv01"] >= 3 * (CREATE + MERGE) and result["timings"]["checkpoint_seconds_max"] == max(lifetimes.values())
