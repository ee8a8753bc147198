# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settling a mount or unmount from its journal (engines/mount/run.py writes it): after a failed mount, and when the next
mount or unmount of that backup on that host (or smhv_cleanup) finds the journal of a run that was killed.

    mount     clone:<i> (cluster, svm, path, mount folder; then the serial), map:<i> (igroup), connect:<i> (access path)
    unmount   disconnect:<i>, delete:<i> (cluster, svm, clone path, serial, the backed-up LUN's serial)

A mount is committed once its mount record names its clones: before that, settling drops every clone its journal names
(found by name when an answer was lost). An unmount is finished: the clones its journal names are deleted and leave the
record, and the empty folders go.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.record import MountRecord
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.undo import drop_clone
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import register_recovery


def _indexed(journal, prefix):
    """[(index, merged data)] of the steps `<prefix>:<i>`, in order."""
    names = []
    for entry in journal.record.steps:
        if entry.name.startswith(prefix + ":") and entry.name not in names:
            names.append(entry.name)
    return [(int(name.partition(":")[2]), journal.merged(name)) for name in names]


def _remove_folder(host, folder):
    """An empty mount folder and its backup's folder (kept when another LUN is still mounted in it)."""
    try:
        host.call("file_delete", {"paths": [folder.rstrip("\\"), folder.rstrip("\\").rpartition("\\")[0]]})
    except SmhvError as error:
        if error.code != "DIRECTORY_NOT_EMPTY":
            raise


def drop_mount_clones(journal, host, storage, check_now=None, keep=()):
    """Drop every clone the mount's journal names (but those in `keep`, clone paths a mount record owns)."""
    kept = set(path.lower() for path in keep)
    for index, clone in _indexed(journal, "clone"):
        if clone.get("path", "").lower() in kept or journal.state_of("clone_drop:%d" % index) == "done":
            continue
        drop_clone(host, storage, dict(clone, mount=None), check_now)
        if clone.get("mount"):
            _remove_folder(host, clone["mount"])
        journal.done("clone_drop:%d" % index)


def _record_of(journal, catalog):
    backup, _on, host = (journal.record.subject or "").partition(" on ")
    return MountRecord(catalog, backup, host) if backup and host else None


def recover_mount(journal, context):
    """A killed mount: committed when its mount record names its clones (nothing to do), else its clones are dropped."""
    record = _record_of(journal, context.catalog)
    owned = [entry.get("clone", "") for entry in (record.luns.values() if record else ())]
    drop_mount_clones(journal, context.host(_host(journal)), context.storage, keep=owned)
    journal.close()
    return {"result": "undone"}


def recover_unmount(journal, context):
    """A killed unmount is finished: every clone its journal names is disconnected and deleted, and leaves the record."""
    host = context.host(_host(journal))
    record = _record_of(journal, context.catalog)
    for _index, clone in _indexed(journal, "disconnect"):
        drop_clone(host, context.storage, dict(clone, mount=None))
        if clone.get("mount"):
            _remove_folder(host, clone["mount"])
        if record is not None:
            record.luns.pop(clone.get("lun_serial"), None)
    if record is not None:
        record.save(fence=journal.fence)
    journal.close()
    return {"result": "finished"}


def _host(journal):
    return (journal.record.subject or "").partition(" on ")[2]


register_recovery("mount", recover_mount)
register_recovery("unmount", recover_unmount)
