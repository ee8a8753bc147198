"""Which VM `vm` names (issue 13 item 7): ids match ids only for a GUID, names match names exactly (case aside), an input
that is one VM's id and another's name is refused naming both, names with surrounding spaces are refused; the same rule
for smhv_mount's `vm` within a backup."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupRecord, BackupVm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.resolve import resolve_backed_up_vm, resolve_vm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply

A = "6f1c5e7a-2b1d-4c3e-9f7a-0d1e2f3a4b5c"
B = "11111111-2222-4333-8444-555566667777"
GONE = "22222222-3333-4444-8555-666677778888"


class Host:
    name = "hv03"

    def __init__(self, vms):
        self.vms = vms  # id -> name

    def call(self, op, args):
        assert op == "vm_inventory"
        names = [n.lower() for n in args.get("names", [])]
        ids = [i.lower() for i in args.get("ids", [])]
        return AgentReply({"vms": [{"id": i, "name": n} for i, n in self.vms.items() if i in ids or n.lower() in names]})


class Catalog:
    def __init__(self, known):
        self.known = known

    def list_datasets(self):
        return []

    def backed_up_vms(self, datasets):
        return {vm_id: {"name": name} for vm_id, name in self.known.items()}


def resolve(vm, on_host, in_backups=None):
    return resolve_vm(Host(on_host), Catalog(in_backups or {}), vm, "hv03")


def test_a_name_that_is_another_vms_id_is_ambiguous():
    with pytest.raises(SmhvError) as error:
        resolve(A, {A: "web", B: A})
    assert error.value.code == "VM_AMBIGUOUS" and "web" in error.value.message and B in error.value.message
    assert error.value.details["ids"] == sorted([A, B])


def test_a_deleted_vm_named_like_a_registered_vms_id_is_ambiguous_too():
    with pytest.raises(SmhvError) as error:
        resolve(A, {A: "web"}, {GONE: A.upper()})
    assert error.value.code == "VM_AMBIGUOUS" and GONE in error.value.message


@pytest.mark.parametrize("vm, on_host, in_backups, expected", [
    (A, {A: "web", B: "db"}, {}, A),  # an id
    (A.upper(), {A: "web"}, {}, A),
    ("web", {A: "web", B: "db"}, {}, A),  # a name
    ("WEB", {A: "web"}, {}, A),
    ("web", {}, {GONE: "web"}, GONE),  # a deleted VM by name
    (GONE, {}, {GONE: "old"}, GONE),  # by id
    ("6f1c5e7a", {A: "web"}, {}, None),  # never a prefix of an id
    ("we", {A: "web"}, {}, None),  # nor of a name
])
def test_exact_matches(vm, on_host, in_backups, expected):
    if expected is None:
        with pytest.raises(SmhvError) as error:
            resolve(vm, on_host, in_backups)
        assert error.value.code == "VM_NOT_FOUND"
    else:
        assert resolve(vm, on_host, in_backups) == expected


@pytest.mark.parametrize("vm", [" web", "web ", "\tweb", "", "   "])
def test_surrounding_spaces_are_refused(vm):
    with pytest.raises(SmhvError) as error:
        resolve(vm, {A: "web"})
    assert error.value.code == "INVALID_ARGUMENT"


def test_two_vms_of_one_name_need_the_id():
    with pytest.raises(SmhvError) as error:
        resolve("web", {A: "web", B: "Web"})
    assert error.value.code == "VM_AMBIGUOUS"


def backup(*vms):
    return BackupRecord("b_03-14-2026_09.00.00", "b", None, "manual", "application", "checkpoint",
                        datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.timezone.utc), "hv03", "ok",
                        vms=tuple(BackupVm(vm_id, name, "hv03", "online") for vm_id, name in vms))


def test_a_backups_vms_resolve_by_the_same_rule():
    record = backup((A, "web"), (B, A))
    with pytest.raises(SmhvError) as error:
        resolve_backed_up_vm(record, A)
    assert error.value.code == "VM_AMBIGUOUS"
    assert [v.vm_id for v in resolve_backed_up_vm(record, "web")] == [A]
    assert [v.vm_id for v in resolve_backed_up_vm(record, B)] == [B]
    assert resolve_backed_up_vm(record, "we") == []
    with pytest.raises(SmhvError):
        resolve_backed_up_vm(record, "web ")
