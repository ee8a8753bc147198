# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scope's datasets and their policies in the catalog: datasets/<dataset>.json and policies/<dataset>/<policy>.json.

A dataset is the one record several controllers update (its members), so update_dataset() is a compare-and-swap loop;
deleting a dataset deletes its policies and keeps its backups, which still restore.
"""

from __future__ import annotations

import dataclasses

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BACKUP_TYPES, METHODS
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import CAS_ATTEMPTS, LAYOUT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import validate_name


class DatasetsMixin:
    """Catalog operations on datasets and policies (mixed into Catalog over a Store)."""

    @staticmethod
    def _dataset_path(name):
        return "%s/datasets/%s.json" % (LAYOUT, name)

    def get_dataset(self, name):
        """Versioned(Dataset) or None."""
        self._ready()
        return self._read(self._dataset_path(validate_name("dataset", name)), "dataset")

    def list_datasets(self):
        self._ready()
        return sorted(entry.name[:-len(".json")] for entry in self.repository.list(LAYOUT + "/datasets")
                      if not entry.is_directory and entry.name.endswith(".json"))

    def dataset_not_found(self, name, message, **details):
        """DATASET_NOT_FOUND whose message ends with the datasets the catalog has, so a misspelt name shows its neighbour."""
        existing = self.list_datasets()
        return SmhvError("DATASET_NOT_FOUND", "%s Datasets there: %s." % (message, ", ".join(existing) or "none"),
                         dict(details, dataset=name, datasets=existing))

    def get_datasets(self):
        """Every dataset record of the scope: one listing and one batched read, whatever their number."""
        self._ready()
        entries = [entry.path for entry in self.repository.list(LAYOUT + "/datasets")
                   if not entry.is_directory and entry.name.endswith(".json")]
        return sorted(self._read_many(entries, "dataset"), key=lambda dataset: dataset.name.casefold())

    def put_dataset(self, dataset, expected_sha256=None):
        """Create `dataset` (expected_sha256 None: fails if it exists, whatever the case of its name) or replace that version of it."""
        self._ready()
        path = self._dataset_path(validate_name("dataset", dataset.name))
        now = self.clock()
        dataset = dataclasses.replace(dataset, created=dataset.created or now, updated=now)
        try:
            return self._write(path, dataset, expected_sha256=expected_sha256, create_only=expected_sha256 is None)
        except WriteConflict as conflict:
            if expected_sha256 is None:
                raise SmhvError("DATASET_EXISTS", "Dataset %s already exists (names are compared without case on the SnapInfo LUN)."
                                % dataset.name, {"dataset": dataset.name}) from None
            raise conflict

    def update_dataset(self, name, change):
        """Apply `change(Dataset) -> Dataset` with compare-and-swap, re-reading and retrying when another writer got there first."""
        for attempt in range(CAS_ATTEMPTS):
            current = self.get_dataset(name)
            if current is None:
                raise self.dataset_not_found(name, "Dataset %s does not exist in this scope's catalog." % name)
            changed = change(current.record)
            if changed == current.record:
                return current
            try:
                return self.put_dataset(changed, expected_sha256=current.sha256)
            except WriteConflict:
                self._back_off(attempt)
        raise SmhvError("CATALOG_CONFLICT", "Dataset %s kept changing underneath (%d attempts); another controller is updating it. Try "
                        "again." % (name, CAS_ATTEMPTS), {"dataset": name})

    def delete_dataset(self, name):
        """Delete the dataset definition and its policies; its backups stay (they still restore)."""
        self._ready()
        validate_name("dataset", name)
        policies = [entry.path for entry in self.repository.list("%s/policies/%s" % (LAYOUT, name)) if not entry.is_directory]
        return bool(self.repository.delete(policies + [self._dataset_path(name)]))

    # -- policies --------------------------------------------------------------------------------

    @staticmethod
    def _policy_path(dataset, name):
        return "%s/policies/%s/%s.json" % (LAYOUT, validate_name("dataset", dataset), validate_name("policy", name))

    def get_policy(self, dataset, name):
        self._ready()
        return self._read(self._policy_path(dataset, name), "policy")

    def list_policies(self, dataset):
        self._ready()
        entries = self.repository.list("%s/policies/%s" % (LAYOUT, validate_name("dataset", dataset)))
        return self._read_many([entry.path for entry in entries if not entry.is_directory and entry.name.endswith(".json")], "policy")

    def all_policies(self):
        """Every policy of every dataset of the scope: one recursive listing and one batched read."""
        self._ready()
        entries = [entry.path for entry in self.repository.list(LAYOUT + "/policies", recurse=True)
                   if not entry.is_directory and entry.name.endswith(".json")]
        return sorted(self._read_many(entries, "policy"), key=lambda policy: (policy.dataset.casefold(), policy.name.casefold()))

    def put_policy(self, policy, expected_sha256=None):
        """Create (expected_sha256 None) or replace a policy after checking its retention, schedule, type and method."""
        self._ready()
        path = self._policy_path(policy.dataset, policy.name)
        policy.retention()
        policy.parsed_schedule()
        if policy.backup_type not in BACKUP_TYPES or policy.method not in METHODS or \
                (policy.backup_type == "crash") != (policy.method == "crash"):
            raise SmhvError("INVALID_ARGUMENT", "Policy %s: backup_type %r with method %r; application backups use method checkpoint or "
                            "vss_provider, crash backups method crash." % (policy.name, policy.backup_type, policy.method),
                            {"policy": policy.name})
        if self.get_dataset(policy.dataset) is None:
            raise self.dataset_not_found(policy.dataset, "Policy %s belongs to dataset %s, which does not exist in this scope's catalog."
                                         % (policy.name, policy.dataset))
        policy = dataclasses.replace(policy, created=policy.created or self.clock())
        try:
            return self._write(path, policy, expected_sha256=expected_sha256, create_only=expected_sha256 is None)
        except WriteConflict as conflict:
            if expected_sha256 is None:
                raise SmhvError("POLICY_EXISTS", "Policy %s of dataset %s already exists." % (policy.name, policy.dataset),
                                {"dataset": policy.dataset, "policy": policy.name}) from None
            raise conflict

    def delete_policy(self, dataset, name):
        self._ready()
        return bool(self.repository.delete([self._policy_path(dataset, name)]))
