"""How smhv_failback reads the two sites (engines/dr/failback_sites.py, failback_readiness.site_systems), without a network:
which storage systems are which site's, each volume's stage from the relationships on both sites, which LUN is whose
twin, the mount points at the primary, and the datasets' members moved between scopes."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset, DatasetMember
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import Versioned
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_readiness import site_systems
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import RoundTrip, public_entry, rehome_members
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import ClusterIdentity, LunRef, MirrorRelationship

A, B = {"hostname": "a.lab", "port": 443}, {"hostname": "b.lab", "port": 8443}


def lun(cluster, volume, name, serial):
    return LunRef(cluster, "svm", volume, "uuid-" + volume, "lun-" + serial, "/vol/%s/%s" % (volume, name), serial, 1, "hyper_v")


def mirror(cluster, source_cluster, source, destination, state):
    return MirrorRelationship(cluster=cluster, uuid="%s>%s" % (source, destination), source_path=source, destination_path=destination,
                              source_cluster=source_cluster, state=state, healthy=True)


class Reply:
    def __init__(self, result):
        self.result = result


class Host:
    def __init__(self, disks):
        self.disks = disks

    def call(self, op, args=None, check_mode=False):
        assert op == "disk_rescan"
        return Reply({"disks": self.disks})


class Session:
    def __init__(self, disks):
        self.owner = Host(disks)


class Storage:
    def __init__(self, name, luns, relationships):
        self.name, self.luns, self.mirrors = name, luns, relationships

    def clusters(self):
        return [ClusterIdentity(name=self.name, uuid="u-" + self.name, version=(9, 13, 1), hostname=self.name, port=443)]

    def relationships(self):
        return list(self.mirrors)

    def find_luns_by_serials(self, serials):
        return {item.serial: item for item in self.luns if item.serial in serials}

    def volume_luns(self, cluster, svm, volume):
        return [item for item in self.luns if item.volume_name == volume]


def disk(serial, path):
    return {"serial": serial, "online": True, "netapp_lun": True, "access_paths": [path] if path else []}


def trip(at_primary, at_dr, primary_disks, dr_disks):
    primary_luns = [lun("cluster-a", "vol_hv03", "lun_j", "a-j"), lun("cluster-a", "vol_hv03", "lun_k", "a-k")]
    dr_luns = [lun("cluster-b", "vol_hv03_dr", "lun_j", "b-j"), lun("cluster-b", "vol_hv03_dr", "lun_k", "b-k"),
               lun("cluster-b", "vol_own", "own", "b-own")]
    return RoundTrip(Session(primary_disks), Session(dr_disks), Storage("cluster-a", primary_luns, at_primary),
                     Storage("cluster-b", dr_luns, at_dr))


FAILED_OVER = [mirror("cluster-b", "cluster-a", "svm:vol_hv03", "svm:vol_hv03_dr", "broken_off")]
DR_DISKS = [disk("b-j", "K:\\"), disk("b-k", "L:\\"), disk("b-own", "D:\\")]


def test_a_failed_over_volume_is_found_from_the_dr_host_and_its_luns_paired_by_name():
    round_trip = trip([], FAILED_OVER, [disk("a-j", "J:\\")], DR_DISKS)
    (entry,) = round_trip.survey("dr")  # the DR host's own volume is not part of the round trip
    assert (entry["dr_volume"], entry["primary_volume"], entry["stage"]) == ("cluster-b:svm:vol_hv03_dr", "cluster-a:svm:vol_hv03", "failed_over")
    assert [(item["dr_lun"].serial, item["primary_lun"].serial, item["dr_access_path"], item["primary_access_path"])
            for item in entry["luns"]] == [("b-j", "a-j", "K:\\", "J:\\"), ("b-k", "a-k", "L:\\", None)]
    # lun_k is not connected at the primary: its backups say where it was, else it keeps the DR site's letter
    assert round_trip.path_pairs(recorded={"a-k": "K:\\"}) == [("K:\\", "J:\\"), ("L:\\", "K:\\")]
    assert round_trip.path_pairs() == [("K:\\", "J:\\"), ("L:\\", "L:\\")]
    assert round_trip.path_pairs({"L:\\": "M:\\"}, {"a-k": "K:\\"}) == [("L:\\", "M:\\"), ("K:\\", "J:\\")]
    first = public_entry(entry, "reverse_resync")["luns"][0]
    assert first == {"dr_lun": "cluster-b:/vol/vol_hv03_dr/lun_j", "dr_access_path": "K:\\", "primary_lun": "cluster-a:/vol/vol_hv03/lun_j"}


@pytest.mark.parametrize("at_primary, at_dr, stage", [
    ([mirror("cluster-a", "cluster-b", "svm:vol_hv03_dr", "svm:vol_hv03", "snapmirrored")], [], "reversed"),
    ([mirror("cluster-a", "cluster-b", "svm:vol_hv03_dr", "svm:vol_hv03", "broken_off")], [], "arrived"),
    ([], [mirror("cluster-b", "cluster-a", "svm:vol_hv03", "svm:vol_hv03_dr", "snapmirrored")], "protected"),
    ([], FAILED_OVER, "failed_over"),
])
def test_the_stage_of_a_volume_comes_from_the_relationships_on_both_sites(at_primary, at_dr, stage):
    (entry,) = trip(at_primary, at_dr, [], DR_DISKS).survey("dr")
    assert entry["stage"] == stage and entry["primary_volume"] == "cluster-a:svm:vol_hv03"
    (entry,) = trip(at_primary, at_dr, [disk("a-j", "J:\\")], []).survey("primary")
    assert entry["stage"] == stage and entry["dr_volume"] == "cluster-b:svm:vol_hv03_dr"


def test_a_rebuilt_site_takes_the_volume_primary_volumes_names():
    round_trip = trip([], FAILED_OVER, [], DR_DISKS)
    round_trip.primary_volumes = {"svm:vol_hv03_dr": "svm:vol_hv03_new"}
    (entry,) = round_trip.survey("dr")
    assert entry["primary_volume"] == "cluster-a:svm:vol_hv03_new" and [item["primary_lun"] for item in entry["luns"]] == [None, None]


def test_site_systems_splits_storage_systems_by_site():
    assert site_systems([A, B], None, ["b.lab:8443"]) == ([A], [B])
    assert site_systems([A, B], ["a.lab"], ["b.lab"]) == ([A], [B])
    for primary, dr in ((None, None), (None, ["a.lab", "b.lab"]), (None, ["c.lab"])):
        with pytest.raises(SmhvError) as error:
            site_systems([A, B], primary, dr)
        assert error.value.code == "INVALID_ARGUMENT"


class Catalog:
    def __init__(self, datasets):
        self.datasets = {record.name: Versioned(record, "sha-" + record.name) for record in datasets}
        self.writes = []

    def get_dataset(self, name):
        return self.datasets.get(name)

    def put_dataset(self, record, expected_sha256=None):
        assert expected_sha256 == self.datasets[record.name].sha256
        self.writes.append(record)
        self.datasets[record.name] = Versioned(record, "sha-new")


def test_rehome_members_moves_only_the_vms_that_moved_and_only_once():
    catalog = Catalog([Dataset("dr", members=(DatasetMember("vm1", "hv03", "vm-1"), DatasetMember("vm2", "hv03", "vm-2"))),
                       Dataset("other", members=(DatasetMember("vm3", "hv03", "vm-3"),))])
    assert rehome_members(catalog, ["dr", "other", "gone"], {"vm1"}, "hvdr01") == ["dr"]
    assert [(m.vm_id, m.scope) for m in catalog.datasets["dr"].record.members] == [("vm1", "hvdr01"), ("vm2", "hv03")]
    assert rehome_members(catalog, ["dr"], {"vm1"}, "hvdr01") == [] and len(catalog.writes) == 1
