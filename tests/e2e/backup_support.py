"""Shared by the backup e2e tests and the benchmark: drive the real module code in-process against a
running lab (real WinRM and ONTAP REST), register scopes, and create datasets in their catalogs."""
from __future__ import annotations

import yaml

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset, DatasetMember
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession, register
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_backup

DEFAULTS = {"policy": None, "backup_type": None, "backup_method": None, "allow_saved_state": None, "update_snapmirror": None,
            "snapvault_label": None, "retention": None, "pre_script": None, "post_script": None, "lease_wait": 0, "lease_ttl": 1800}


class LabSite:
    """Module parameters for a running lab (from its inventory), and helpers over its scopes."""

    def __init__(self, lab):
        self.lab = lab
        inventory = yaml.safe_load(lab.inventory.read_text())["all"]["vars"]
        self.common = {"storage_systems": inventory["smhv_storage_systems"], "winrm": inventory["smhv_winrm"],
                       "host_addresses": inventory["smhv_host_addresses"]}
        for system in self.common["storage_systems"]:
            for key, value in (("port", 443), ("validate_certs", True), ("ca_path", None), ("cert_filepath", None),
                               ("key_filepath", None), ("timeout", 60), ("username", None), ("password", None)):
                system.setdefault(key, value)

    def session(self, scope):
        return ScopeSession(scope, self.common["winrm"], self.common["host_addresses"])

    def storage(self):
        return StorageClient(self.common["storage_systems"])

    def register(self, scope, snapinfo_path, report_path="C:\\SMHV\\Reports", create_snapinfo=True):
        with self.session(scope) as session:
            register(session, self.storage(), snapinfo_path, report_path, create_snapinfo=create_snapinfo)

    def vm_ids(self, scope, names):
        with self.session(scope) as session:
            ids = {}
            for outcome in session.call_nodes("vm_inventory", {"names": list(names), "require_all": False}).values():
                for vm in outcome.result["vms"]:
                    ids[vm["name"]] = vm["id"]
        return ids

    def catalog(self, session, snapinfo_path):
        return Catalog(HostRepository(session.owner, snapinfo_path))

    def dataset(self, scope, snapinfo_path, name, vm_names):
        ids = self.vm_ids(scope, vm_names)
        with self.session(scope) as session:
            members = tuple(DatasetMember(ids[vm], session.name, vm) for vm in vm_names)
            self.catalog(session, snapinfo_path).put_dataset(Dataset(name, members=members))

    def backups(self, scope, snapinfo_path, dataset):
        with self.session(scope) as session:
            return [(s.name, s.status) for s in self.catalog(session, snapinfo_path).list_backups(dataset=dataset)]

    def backup(self, scope, dataset, check_mode=False, **options):
        """Run smhv_backup's code path (everything but AnsibleModule) and return its result."""
        params = dict(DEFAULTS, **self.common, hyperv_host=scope, dataset=dataset)
        params.update(options)
        return smhv_backup.run(params, check_mode)
