"""A tiny hand-built world: ONTAP cluster `cl1` with one LUN mapped to host `hv1` and connected as J:\\,
VM `vm1` (and VMs with hostile names) whose configuration and VHDX live on it; plus an AgentExecutor
over that world and `call()`, which sends one request the way the agent receives it over PSRP."""
from __future__ import annotations

import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from smhv_lab.faults import FaultRegistry
from smhv_lab.hyperv import AgentExecutor
from smhv_lab.winrm.executor import PipelineCommand
from smhv_lab.world import LunContent, World
from smhv_lab.world.storage import StorageCluster
from smhv_lab.world.windows import Disk, VirtualMachine, WindowsHost, new_vhdx

GIB = 1024 ** 3
HOST = "hv1"
IQN = "iqn.1991-05.com.microsoft:hv1.lab.local"
VM1_ID = "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"


def make_vm(world, host, name, vm_id, folder, disks=1, **fields):
    vhds = []
    for index in range(disks):
        suffix = "" if index == 0 else f"_disk{index}"
        vhd = f"{folder}\\Virtual Hard Disks\\{name if index == 0 else 'data'}{suffix}.vhdx"
        host.write_file(world, vhd, new_vhdx(40 * GIB, {"boot\\bcd": "boot"} if index == 0 else {}))
        vhds.append(vhd)
    vm = VirtualMachine(id=vm_id, name=name, config_path=f"{folder}\\Virtual Machines\\{vm_id.upper()}.vmcx",
                        vhd_paths=vhds, snapshot_location=folder, **fields)
    host.write_file(world, vm.config_path, json.dumps(vm.config_document()).encode())
    host.vms[vm.id] = vm
    return vm


@pytest.fixture
def world():
    world = World()
    cluster = StorageCluster("cl1", site="a")
    cluster.add_svm("svm1")
    cluster.add_aggregate("aggr1", 2048 * GIB)
    cluster.create_volume("svm1", "vol1", "aggr1", 500 * GIB)
    lun = cluster.create_lun("vol1", "lun_j", 200 * GIB, content=LunContent(label="J"))
    cluster.create_igroup("svm1", "ig_hv1", initiators=[IQN])
    cluster.map_lun(lun.path, "ig_hv1")
    world.clusters[cluster.name] = cluster
    host = WindowsHost(name=HOST, iscsi_iqn=IQN, hotfixes={"KB5031364"},
                       services={"vmms": {"display_name": "Hyper-V Virtual Machine Management", "status": "Running",
                                          "start_type": "Automatic"}},
                       firewall_rules={"SMHV/SnapDrive": {"local_ports": ["808", "4094-4095"], "protocol": "TCP"}},
                       registry={"HKLM\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\HV1": {"snapinfo_snaps_count": 30}},
                       vss_providers=[{"name": "Data ONTAP VSS Hardware Provider", "type": "Hardware", "version": "7.1.5",
                                       "id": "{DDD3D232-A96F-4AC5-8F7B-250FD91FD102}"}])
    host.disks[lun.serial] = Disk(number=1, serial=lun.serial, cluster="cl1", lun_path=lun.path, access_paths=["J:\\"])
    world.hosts[HOST] = host
    make_vm(world, host, "vm1", VM1_ID, "J:\\vm1", disks=2)
    return world


@pytest.fixture
def add_vm(world):
    """add_vm(name, vm_id, folder, disks=1, **VirtualMachine fields): another VM on hv1."""
    return lambda name, vm_id, folder, disks=1, **fields: make_vm(world, world.hosts[HOST], name, vm_id, folder,
                                                                  disks, **fields)


@pytest.fixture
def lun(world):
    return world.clusters["cl1"].lun_by_serial(next(iter(world.hosts[HOST].disks)))


@pytest.fixture
def faults():
    return FaultRegistry()


@pytest.fixture
def executor(world, faults):
    return AgentExecutor(world, faults)


@pytest.fixture
def call(executor):
    """call(op, args, check_mode=False, host=HOST) -> the agent's answer, sent as a PSRP pipeline."""

    def send(op, args=None, check_mode=False, host=HOST):
        request = agent.encode_request(op, args or {}, check_mode)
        result = executor.run_pipeline(host, [PipelineCommand(agent.AGENT_SCRIPT, True, [("Request", request)])], [])
        assert not result.failed, result.reason
        (text,) = result.output
        assert text.isascii()
        answer = agent.decode_response(text)
        if answer["ok"]:
            assert agent.validate_result(op, answer["result"]) == []
        return answer

    return send
