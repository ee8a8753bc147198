"""Shared by the catalog tests: a clock the test moves, the scope, and a backup record factory."""
from __future__ import annotations

import datetime
import threading

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.listing import backup_file_name, parse_backup_file_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupFile, BackupRecord, BackupVm, Scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import backup_name

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 14, 9, tzinfo=UTC)
SCOPE = Scope("hvc1", "cluster", ("hv01", "hv02"), "C:\\ClusterStorage\\Volume9\\SnapInfo", "C:\\SMHV\\Reports")


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


def make_backup(dataset, when, vms=("a",), tag="hourly", status="ok", backup_type="application"):
    method = "checkpoint" if backup_type == "application" else "crash"
    name = backup_name(dataset, when)
    return BackupRecord(name, dataset, "p_" + tag, tag, backup_type, method, when, "hvc1", status, vms=tuple(
        BackupVm("id-" + vm, vm, "hv01", "online", files=(BackupFile("C:\\ClusterStorage\\Volume1\\%s\\disk.vhdx" % vm, "vhd", "80AbC1234567",
                                                                     "c1", "svm1", "vol_vm1", (name,)),))
        for vm in vms))


def save_in_order(catalog, records):
    """Save `records` of one dataset as smhv_backup does (the VM index read, then the listing, passed to save_backup),
    keeping the listing here instead of listing the dataset again for every record."""
    listed = []
    for record in records:
        index = catalog.read_for_backup(record.dataset, "hvc1")[2]
        catalog.save_backup(record, existing=listed, index=index)
        file_name = backup_file_name(record)
        listed.append(parse_backup_file_name(record.dataset, file_name, "smhv/v1/backups/%s/%s" % (record.dataset, file_name)))


def run_together(*functions):
    """Start the functions on threads behind one barrier and re-raise the first error."""
    barrier = threading.Barrier(len(functions))
    errors = []

    def run(function):
        barrier.wait()
        try:
            function()
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(function,)) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
