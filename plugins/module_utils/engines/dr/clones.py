# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A FlexClone of a SnapMirror destination volume at a snapshot, its LUNs connected to a DR host under the mount root.

Check mode of smhv_failover reads the DR site's SnapInfo catalog this way before the SnapInfo is restored (a destination
volume is read-only and its LUN cannot be connected writable): the clone is made, read and removed before the answer, so
nothing is left changed. Every part of the removal is tried even when one before it failed.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup

MOUNT_ROOT = "C:\\SMHV\\Mounts"


class VolumeCloneMount:
    """Use as a context manager: `path_of(lun)` is where the clone of the parent's LUN `lun` is connected."""

    def __init__(self, storage, session, volume, snapshot, name, mount_root=MOUNT_ROOT):
        self.storage = storage
        self.session = session
        self.host = session.owner
        self.volume = volume
        self.snapshot = snapshot
        self.name = name
        self.folder = "%s\\%s" % (mount_root, name)
        self.clone = None
        self.igroup = None
        self.connected = []  # (clone LunRef, folder)
        self.problems = []
        self.mount_root = mount_root
        self.made_root = []  # the mount root and its parents that did not exist before: removed again (check mode leaves nothing)

    def __enter__(self):
        try:
            parts = self.mount_root.split("\\")
            ancestors = ["\\".join(parts[:index]) for index in range(len(parts), 1, -1)]  # deepest first, drive excluded
            found = self.host.call("path_info", {"paths": ancestors}).result["paths"]
            self.made_root = [record["path"] for record in found if not record["exists"]]
            self.clone = self.storage.clone_volume(self.volume, self.snapshot, self.name)
            luns = self.storage.volume_luns(self.clone.cluster, self.clone.svm, self.clone.name)
            for lun in luns:
                if self.igroup is None:
                    self.igroup = host_igroup(self.storage, lun, self.session.facts)
                self.storage.san.map_lun(lun, self.igroup)
                folder = "%s\\%s\\" % (self.folder, lun.path.rsplit("/", 1)[-1])
                self.connected.append((lun, folder))
                self.host.call("disk_connect", {"serial": lun.serial, "access_path": folder})
        except SmhvError:
            self.__exit__(None, None, None)
            raise
        return self

    def path_of(self, lun):
        name = lun.path.rsplit("/", 1)[-1]
        for clone_lun, folder in self.connected:
            if clone_lun.path.rsplit("/", 1)[-1] == name:
                return folder
        raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "FlexClone %s has no LUN %s." % (self.name, name), {"lun": name})

    def __exit__(self, *exc_info):
        def attempt(what, action):
            try:
                action()
            except SmhvError as error:
                self.problems.append("%s: %s" % (what, error.message))

        for lun, folder in self.connected:
            attempt("disconnect %s" % lun.path, lambda lun=lun: self.host.call("disk_disconnect", {"serial": lun.serial}))
            attempt("delete folder %s" % folder, lambda folder=folder: self.host.call("file_delete", {"paths": [folder.rstrip("\\")]}))
            attempt("unmap %s" % lun.path, lambda lun=lun: self.storage.san.unmap_lun(lun, self.igroup))
        if self.connected or self.clone is not None:
            attempt("delete folder %s" % self.folder, lambda: self.host.call("file_delete", {"paths": [self.folder]}))
        for folder in self.made_root:
            attempt("delete folder %s" % folder, lambda folder=folder: self.host.call("file_delete", {"paths": [folder]}))
        if self.clone is not None:
            attempt("delete FlexClone %s" % self.clone.path, lambda: self.storage.delete_volume(self.clone))
        if self.igroup is not None and self.igroup.created:
            attempt("delete igroup %s" % self.igroup.name, lambda: self.storage.delete_igroup(self.igroup))
        attempt("rescan disks", lambda: self.host.call("disk_rescan"))
        return False
