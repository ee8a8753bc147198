"""Shared by the catalog tests: a clock the test moves, the scope, and a backup record factory."""
from __future__ import annotations

import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog_records import BackupFile, BackupRecord, BackupVm, Scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules_names import backup_name

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
