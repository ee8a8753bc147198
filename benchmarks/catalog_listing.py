"""Catalog listing over 10,000 backup records: filtered by dataset, by time, and by VM.

    PYTHONPATH=.cache/collections .venv/bin/python benchmarks/catalog_listing.py

Builds the records in a MemoryRepository (10 datasets x 1,000 hourly backups, 4 VMs each), then
times each listing 5 times and prints the median against the 1 s target, with the repository calls
one listing costs: the file-name encoding answers dataset/time filters from one directory listing
and no record read; a VM filter reads only the records in the VM's span.

HostRepository against the lab is not measured yet: the lab's Hyper-V executor does not implement
the agent's file ops (file_read, file_list...) at the time of writing.
"""
from __future__ import annotations

import datetime
import statistics
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog_records import BackupRecord, BackupVm, Dataset, Scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog_repository import MemoryRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules_names import backup_name

DATASETS = 10
BACKUPS_PER_DATASET = 1000
RUNS = 5
TARGET_SECONDS = 1.0
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def build():
    repository = MemoryRepository()
    catalog = Catalog(repository)
    catalog.initialize(Scope("hvc1", "cluster", ("hv01", "hv02"), "C:\\ClusterStorage\\Volume9\\SnapInfo", "C:\\SMHV\\Reports"))
    for number in range(DATASETS):
        dataset = "ds%02d" % number
        catalog.put_dataset(Dataset(dataset))
        for hour in range(BACKUPS_PER_DATASET):
            when = START + datetime.timedelta(hours=hour)
            vms = tuple(BackupVm("vm-%02d-%d" % (number, vm), "vm%02d%d" % (number, vm), "hv01", "online") for vm in range(4))
            catalog.save_backup(BackupRecord(backup_name(dataset, when), dataset, "hourly", "hourly", "application", "checkpoint", when,
                                             "hvc1", "failed" if hour % 50 == 49 else "ok", vms=vms))
    return repository, catalog


def measure(label, repository, listing):
    seconds = []
    before = dict(repository.calls)
    for _run in range(RUNS):
        started = time.perf_counter()
        found = listing()
        seconds.append(time.perf_counter() - started)
    calls = {op: (repository.calls[op] - before[op]) // RUNS for op in ("list", "read")}
    median = statistics.median(seconds)
    print("%-44s %6d found  median %7.1f ms  (%4.0f%% of target)  per listing: %d list, %d read calls"
          % (label, len(found), median * 1000, 100 * median / TARGET_SECONDS, calls["list"], calls["read"]))
    return median


def main():
    started = time.perf_counter()
    repository, catalog = build()
    print("built %d backup records in %.1f s" % (DATASETS * BACKUPS_PER_DATASET, time.perf_counter() - started))
    week = (START + datetime.timedelta(days=20), START + datetime.timedelta(days=27))
    medians = [
        measure("all backups", repository, catalog.list_backups),
        measure("dataset ds03", repository, lambda: catalog.list_backups(dataset="ds03")),
        measure("all datasets, one week", repository, lambda: catalog.list_backups(since=week[0], until=week[1])),
        measure("dataset ds03, one week", repository, lambda: catalog.list_backups(dataset="ds03", since=week[0], until=week[1])),
        measure("dataset ds03, failed", repository, lambda: catalog.list_backups(dataset="ds03", status="failed")),
        measure("VM vm-03-2, one week (reads records)", repository, lambda: catalog.list_backups(vm_id="vm-03-2", since=week[0], until=week[1])),
    ]
    verdict = "ok" if max(medians) < TARGET_SECONDS else "MISSED"
    print("slowest median %.1f ms, target %.0f ms: %s" % (max(medians) * 1000, TARGET_SECONDS * 1000, verdict))


if __name__ == "__main__":
    main()
