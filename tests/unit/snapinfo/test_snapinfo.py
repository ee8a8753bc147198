"""snapinfo: SMHV names, retention that never counts other snapshots, mirror updates, single-LUN restore."""
from __future__ import annotations

import dataclasses
import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import snapinfo
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession, register
from unit.host.fakes import SNAPINFO_VOLUME, FakeHost, FakeStorage, Site, factory, lun, mirror, storage_record

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 14, 9, 0, 0, 123456, tzinfo=UTC)
PATHS = {"S:\\": storage_record("SNAPINFO0001"), "C:\\": storage_record("HV-OS", "C:\\", netapp=False)}


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def site():
    return Site()


@pytest.fixture
def storage():
    return FakeStorage(luns=[lun("SNAPINFO0001", SNAPINFO_VOLUME, "snapinfo_hv03")], relationships=[mirror()])


@pytest.fixture
def session(site, storage):
    hosts = {"hv03": FakeHost(site, "hv03", None, PATHS)}
    register(ScopeSession("hv03", {}, {}, factory(hosts)), storage, "S:\\", "C:\\Reports", snaps_count=3, create_snapinfo=True)
    site.calls.clear()
    return ScopeSession("hv03", {}, {}, factory(hosts))


@pytest.fixture
def clock():
    return Clock()


def test_takes_an_smhv_named_snapshot_and_updates_the_mirror(session, storage, clock):
    result = snapinfo.take(session, storage, clock=clock)
    assert result["snapshot"] == "smhv_snapinfo_hv03_03-14-2026_09.00.00" and storage.created == [result["snapshot"]]
    assert result["actions"] == ["create snapshot smhv_snapinfo_hv03_03-14-2026_09.00.00 of volume svm1:vol_snapinfo on c1",
                                 "SnapMirror update svm1:vol_snapinfo -> svm_dr:vol_snapinfo_dr"]
    assert storage.snapmirror.updated == ["svm_dr:vol_snapinfo_dr"] and result["snapmirror"][0]["state"] == "success"
    assert result["snapshots"][0]["time"] == "2026-03-14T09:00:00+00:00"


def test_check_mode_plans_the_same_and_touches_nothing(session, storage, clock):
    storage.add_snapshot(SNAPINFO_VOLUME, "smhv_snapinfo_hv03_03-13-2026_09.00.00")
    planned = snapinfo.take(session, storage, retention=1, check_mode=True, clock=clock)
    assert storage.created == [] and storage.deleted == [] and storage.snapmirror.updated == []
    assert planned["snapmirror"][0]["state"] == "planned" and planned["deleted"] == ["smhv_snapinfo_hv03_03-13-2026_09.00.00"]
    done = snapinfo.take(session, storage, retention=1, clock=clock)
    assert planned["actions"] == done["actions"] and planned["deleted"] == done["deleted"]


def test_retention_counts_only_this_scopes_snapinfo_snapshots(session, storage, clock):
    for name in ["smhv_snapinfo_hv03_03-10-2026_09.00.00", "smhv_snapinfo_hv03_03-11-2026_09.00.00",
                 "smhv_snapinfo_hv03_03-12-2026_09.00.00", "smhv_snapinfo_hv03_03-13-2026_09.00.00",
                 "smhv_snapinfo_hvclus01_03-01-2026_09.00.00", "smhv_snapinfo_hv03x_03-01-2026_09.00.00",
                 "smhv_snapinfo_hv03_notatime", "ds1_03-01-2026_09.00.00", "hourly.0"]:
        storage.add_snapshot(SNAPINFO_VOLUME, name)
    result = snapinfo.take(session, storage, clock=clock)  # keeps the registered 3
    assert result["deleted"] == ["smhv_snapinfo_hv03_03-10-2026_09.00.00", "smhv_snapinfo_hv03_03-11-2026_09.00.00"]
    assert [s["name"] for s in result["snapshots"]] == ["smhv_snapinfo_hv03_03-12-2026_09.00.00", "smhv_snapinfo_hv03_03-13-2026_09.00.00",
                                                        "smhv_snapinfo_hv03_03-14-2026_09.00.00"]
    assert {"smhv_snapinfo_hvclus01_03-01-2026_09.00.00", "smhv_snapinfo_hv03x_03-01-2026_09.00.00", "smhv_snapinfo_hv03_notatime",
            "ds1_03-01-2026_09.00.00", "hourly.0"} <= set(storage.names(SNAPINFO_VOLUME))


def test_a_busy_snapshot_is_kept_with_a_warning(session, storage, clock):
    storage.add_snapshot(SNAPINFO_VOLUME, "smhv_snapinfo_hv03_03-10-2026_09.00.00")
    storage.busy.add("smhv_snapinfo_hv03_03-10-2026_09.00.00")
    result = snapinfo.take(session, storage, retention=1, clock=clock)
    assert result["deleted"] == [] and "is busy" in result["warnings"][0]


def test_min_interval_makes_a_rerun_unchanged_but_still_prunes(session, storage, clock):
    first = snapinfo.take(session, storage, min_interval=3600, clock=clock)
    clock.advance(1800)
    again = snapinfo.take(session, storage, min_interval=3600, clock=clock)
    assert first["changed"] and not again["changed"] and again["actions"] == [] and again["snapshot"] is None
    assert storage.snapmirror.updated == ["svm_dr:vol_snapinfo_dr"]
    clock.advance(1801)
    assert snapinfo.take(session, storage, min_interval=3600, clock=clock)["changed"]
    storage.add_snapshot(SNAPINFO_VOLUME, "smhv_snapinfo_hv03_01-01-2026_09.00.00")
    pruned = snapinfo.take(session, storage, min_interval=3600, retention=1, clock=clock)
    assert pruned["changed"] and pruned["snapshot"] is None and len(pruned["deleted"]) == 2


def test_the_same_second_twice_takes_one_snapshot(session, storage, clock):
    snapinfo.take(session, storage, clock=clock)
    clock.advance(0.5)
    second = snapinfo.take(session, storage, clock=clock)
    assert not second["changed"] and storage.created == ["smhv_snapinfo_hv03_03-14-2026_09.00.00"]


def test_a_broken_off_mirror_is_skipped_with_a_warning(session, storage, clock):
    storage.snapmirror.relationships = [mirror("broken_off")]
    result = snapinfo.take(session, storage, clock=clock)
    assert result["snapmirror"] == [] and storage.snapmirror.updated == [] and "broken_off" in result["warnings"][0]


def test_an_unregistered_scope_needs_a_snapinfo_path(site, storage, clock):
    session = ScopeSession("hv04", {}, {}, factory({"hv04": FakeHost(site, "hv04", None, PATHS)}))
    with pytest.raises(SmhvError) as caught:
        snapinfo.take(session, storage, clock=clock)
    assert caught.value.code == "SCOPE_NOT_REGISTERED" and "smhv_host" in caught.value.message
    assert snapinfo.take(session, storage, snapinfo_path="S:\\", clock=clock)["snapshot"].startswith("smhv_snapinfo_hv04_")


def test_restore_latest_is_a_single_lun_restore_then_a_rescan(session, storage, site):
    for name in ["smhv_snapinfo_hv03_03-12-2026_09.00.00", "smhv_snapinfo_hv03_03-13-2026_09.00.00", "smhv_snapinfo_zz_03-20-2026_09.00.00"]:
        storage.add_snapshot(SNAPINFO_VOLUME, name)
    result = snapinfo.restore(session, storage)
    assert storage.restored == [("smhv_snapinfo_hv03_03-13-2026_09.00.00", "/snapinfo_hv03")]
    assert result["restored_from"] == "smhv_snapinfo_hv03_03-13-2026_09.00.00" and result["changed"]
    assert [call[1] for call in site.calls if call[1] == "disk_rescan"] == ["disk_rescan"]
    assert result["scope_record"]["name"] == "hv03"


def test_restore_in_check_mode_plans_only(session, storage, site):
    storage.add_snapshot(SNAPINFO_VOLUME, "smhv_snapinfo_hv03_03-13-2026_09.00.00")
    planned = snapinfo.restore(session, storage, check_mode=True)
    assert storage.restored == [] and not any(call[1] == "disk_rescan" for call in site.calls)
    assert planned["actions"] == snapinfo.restore(session, storage)["actions"]


def test_restore_from_another_scopes_snapshots_and_by_name(session, storage):
    storage.add_snapshot(SNAPINFO_VOLUME, "smhv_snapinfo_hvclus01_03-13-2026_09.00.00")
    storage.add_snapshot(SNAPINFO_VOLUME, "manual")
    assert snapinfo.restore(session, storage, source_scope="hvclus01")["restored_from"] == "smhv_snapinfo_hvclus01_03-13-2026_09.00.00"
    assert snapinfo.restore(session, storage, snapshot="manual")["restored_from"] == "manual"


@pytest.mark.parametrize("snapshot", ["latest", "smhv_snapinfo_hv03_01-01-2020_00.00.00"])
def test_restore_of_a_missing_snapshot_names_what_exists(session, storage, snapshot):
    with pytest.raises(SmhvError) as caught:
        snapinfo.restore(session, storage, snapshot=snapshot)
    assert caught.value.code == "STORAGE_OBJECT_NOT_FOUND" and "svm1:vol_snapinfo" in caught.value.message


def test_restore_on_a_mirror_destination_is_refused(session, storage):
    storage.volumes[SNAPINFO_VOLUME.uuid] = dataclasses.replace(SNAPINFO_VOLUME, type="dp")
    with pytest.raises(SmhvError) as caught:
        snapinfo.restore(session, storage)
    assert caught.value.code == "VOLUME_READ_ONLY" and storage.restored == []


def test_listing(session, storage):
    storage.add_snapshot(SNAPINFO_VOLUME, "smhv_snapinfo_hv03_03-13-2026_09.00.00")
    listed = snapinfo.list_snapshots(session, storage)
    assert [s["name"] for s in listed["snapshots"]] == ["smhv_snapinfo_hv03_03-13-2026_09.00.00"]
    assert listed["snapmirror"][0]["destination"] == "svm_dr:vol_snapinfo_dr" and not listed["changed"]
