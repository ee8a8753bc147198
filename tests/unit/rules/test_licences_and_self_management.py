"""The pure halves of issue 22's licence check and self-management guard (the lab tests run them end to end)."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.licences import host_protocols, require_licences
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.self_management import controller_vm, refuse_controller_vm

FULL = dict.fromkeys(("snaprestore", "flexclone", "iscsi"), "compliant")


def test_the_hosts_initiators_name_the_protocol_licences():
    ports = [{"connection_type": "iSCSI"}, {"connection_type": "Fibre Channel"}, {"connection_type": "SAS"}]
    assert host_protocols(ports) == ["fcp", "iscsi"] and host_protocols(None) == []


def test_one_licensed_protocol_of_the_hosts_is_enough_and_noncompliant_is_a_warning():
    packages = dict(FULL, flexclone="noncompliant")
    warnings = require_licences({"c1": packages}, ("snaprestore", "flexclone"), "x", any_of=("fcp", "iscsi"))
    assert len(warnings) == 1 and "FlexClone" in warnings[0] and "c1" in warnings[0]


def test_every_missing_licence_is_named_with_its_cluster():
    with pytest.raises(SmhvError) as error:
        require_licences({"c1": {"iscsi": "compliant"}, "c2": FULL}, ("snaprestore",), "Registering scope hv1", any_of=("fcp",))
    assert error.value.code == "LICENSE_MISSING"
    assert error.value.details["missing"] == [{"cluster": "c1", "licence": "snaprestore"}, {"cluster": "c1", "licence": "fcp"},
                                              {"cluster": "c2", "licence": "fcp"}]
    assert "SnapRestore on ONTAP cluster c1" in error.value.message and "FCP on ONTAP cluster c2" in error.value.message


def test_the_controllers_vm_is_found_by_any_address_in_any_spelling():
    vms = [{"id": "1", "name": "a", "ip_addresses": ["10.0.0.9"]}, {"id": "2", "name": "b", "ip_addresses": ["FE80::0:1%3", "10.0.0.5"]}]
    assert controller_vm(vms, {"fe80::1"}) == (vms[1], ["fe80::1"])
    assert controller_vm(vms, {"10.0.0.1"}) == (None, [])
    with pytest.raises(SmhvError) as error:
        refuse_controller_vm(vms, ["10.0.0.9"], "restore", "hv1")
    assert error.value.code == "CONTROLLER_VM" and error.value.details["vm"] == "a"
