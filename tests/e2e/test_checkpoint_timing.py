"""A backup through the lab spends Hyper-V's checkpoint and merge time (hyperv/timing.py; real WinRM and ONTAP
REST): the agent checkpoints a node's VMs side by side (agent/checkpoint_jobs.ps1, CHECKPOINT_JOBS at once), so a
node's checkpoint call lasts one checkpoint's time however many VMs it has, up to the agent's jobs and the host's
concurrency, and its merge call one merge's time (tests/lab/hyperv/test_checkpoint_timing.py shows a host with a
lower concurrency queueing them). The backup reports how long the VMs stayed checkpointed. Short durations keep
the test fast; benchmarks/checkpoint_window.py measures the realistic profile."""
from __future__ import annotations

from e2e.backup_support import LabSite

SNAPINFO = "S:\\SnapInfo"
VMS = ["vm-web01", "vm-app01", "vm-db01", "vm-web02"]  # three running on hv01, one on hv02
CREATE, MERGE = 0.5, 0.3


def test_a_backup_spends_one_checkpoint_and_one_merge_time_per_node(lab):
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
    # Side by side: hv01's three checkpoints take about one checkpoint's time (one after another they would take
    # three), as hv02's one does, and so do the merges.
    assert CREATE <= calls[("backup_checkpoint", "hv01")] < 3 * CREATE
    assert CREATE <= calls[("backup_checkpoint", "hv02")] < 3 * CREATE
    assert MERGE <= calls[("checkpoint_remove", "hv01")] < 3 * MERGE
    steps = {step["step"]: step["seconds"] for step in result["timings"]["steps"]}
    assert CREATE <= steps["checkpoint"] < 3 * CREATE and MERGE <= steps["release_checkpoints"] < 3 * MERGE
    lifetimes = result["timings"]["checkpoint_seconds_per_host"]
    assert lifetimes["hv01"] >= CREATE + MERGE and result["timings"]["checkpoint_seconds_max"] == max(lifetimes.values())
