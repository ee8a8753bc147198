"""Snapshot budget: the seed's "30 hourly vs 30 days" example and the sums behind every refusal."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.budget import (
    PolicyLoad, VolumeUse, check_budget, max_runs_within, unlimited_warnings, volume_budget)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import Retention
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.schedule import parse_cron, parse_schedule

HOURLY = parse_schedule({"frequency": "hourly"})
DAYS = datetime.timedelta(days=1)


def test_thirty_hourly_backups_fit_but_thirty_days_of_them_do_not():
    # The seed (SMHV: two snapshots per backup, 255 per volume): 30 backups is 60 snapshots,
    # but 30 days of hourly backups fills the volume in about five days.
    by_count = PolicyLoad("ds_1", "hourly", Retention("hourly", count=30), HOURLY, "vss_provider")
    budget = check_budget([VolumeUse("vol_vm1", 255, 0, (by_count,))])[0]
    assert budget.per_policy == {"ds_1/hourly": 60} and budget.used == 62 and budget.headroom == 193

    by_age = PolicyLoad("ds_1", "hourly", Retention("hourly", age=30 * DAYS), HOURLY, "vss_provider")
    with pytest.raises(SmhvError) as caught:
        check_budget([VolumeUse("vol_vm1", 255, 0, (by_age,))])
    assert caught.value.code == "SNAPSHOT_BUDGET_EXCEEDED"
    assert "volume vol_vm1 would hold 1442 snapshots at steady state (ds_1/hourly 1440 + the backup being taken 2), over its limit " \
           "of 255 by 1187" in caught.value.message
    assert caught.value.details["volumes"][0]["per_policy"] == {"ds_1/hourly": 1440}


def test_thirty_days_of_hourly_is_720_backups():
    assert max_runs_within(HOURLY, 30 * DAYS) == 720
    assert max_runs_within(parse_schedule({"frequency": "weekly"}), 30 * DAYS) == 5
    assert max_runs_within(parse_schedule({"frequency": "monthly"}), 30 * DAYS) == 2  # Feb 1 and Mar 1 are 28 days apart
    assert max_runs_within(None, 30 * DAYS) is None


def test_cron_counts_the_fullest_window():
    business_hours = parse_cron("*/15 9-17 * * mon-fri")
    assert max_runs_within(business_hours, 30 * DAYS) == 22 * 36  # at most 22 weekdays in 30 days, 36 runs each
    assert max_runs_within(parse_cron("* * * * *"), 30 * DAYS) == 1024  # capped: past every ONTAP limit


def test_everything_on_the_volume_counts():
    mine = PolicyLoad("ds_1", "daily", Retention("daily", count=100), parse_schedule({"frequency": "daily"}), "checkpoint")
    theirs = PolicyLoad("ds_2", "weekly", Retention("weekly", count=52), parse_schedule({"frequency": "weekly"}), "vss_provider")
    budget = volume_budget(VolumeUse("vol_csv1", 255, foreign=19, policies=(mine, theirs), snapinfo_copies=30))
    assert budget.used == 100 + 104 + 19 + 30 + 2 == 255 and budget.ok and budget.headroom == 0
    with pytest.raises(SmhvError) as caught:
        check_budget([VolumeUse("vol_csv1", 255, foreign=40, policies=(mine, theirs), snapinfo_copies=30)])
    assert "(ds_1/daily 100 + ds_2/weekly 104 + other snapshots 40 + SnapInfo copies 30 + the backup being taken 2), over its limit " \
           "of 255 by 21" in caught.value.message


def test_snapmirror_destination_limit_is_the_callers():
    load = PolicyLoad("ds", "hourly", Retention("hourly", count=1018), HOURLY, "checkpoint")
    assert check_budget([VolumeUse("vol_dst", 1023, 0, (load,))])[0].headroom == 4
    with pytest.raises(SmhvError):
        check_budget([VolumeUse("vol_dst", 1019, 1, (load,))])


def test_unbounded_retention_is_refused_by_name():
    unlimited = PolicyLoad("ds", "keep", Retention("unlimited"), None, "crash")
    on_demand = PolicyLoad("ds", "adhoc", Retention("daily", age=7 * DAYS), None, "crash")
    with pytest.raises(SmhvError) as caught:
        check_budget([VolumeUse("vol1", 1023, 0, (unlimited, on_demand))])
    assert "ds/keep, ds/adhoc keep backups without bound" in caught.value.message


def test_every_volume_over_its_limit_is_named():
    load = PolicyLoad("ds", "hourly", Retention("hourly", count=300), HOURLY, "checkpoint")
    with pytest.raises(SmhvError) as caught:
        check_budget([VolumeUse("vol_a", 255, 0, (load,)), VolumeUse("vol_b", 1023, 0, (load,)), VolumeUse("vol_c", 255, 0, (load,))])
    assert "volume vol_a" in caught.value.message and "volume vol_c" in caught.value.message
    assert "volume vol_b" not in caught.value.message


def test_acknowledged_unlimited_counts_what_it_holds_and_is_warned_not_refused():
    unlimited = PolicyLoad("ds", "archive", Retention("unlimited"), None, "vss_provider", acknowledged=True)
    hourly = PolicyLoad("ds", "hourly", Retention("hourly", count=100), HOURLY, "checkpoint")
    budget = check_budget([VolumeUse("vol1", 255, 3, (unlimited, hourly), held={"ds/archive": 40})])[0]
    assert budget.per_policy == {"ds/archive": 40, "ds/hourly": 100} and budget.unbounded == () and budget.unlimited == ("ds/archive",)
    assert budget.used == 3 + 40 + 100 + 2 and budget.headroom == 110
    warned = unlimited_warnings([budget.as_dict()])
    assert len(warned) == 1 and "ds/archive keeps every backup" in warned[0] and "room for 110 more" in warned[0]
    assert "after about 55 more backups (two snapshots each" in warned[0]
    with pytest.raises(SmhvError) as caught:  # what it holds still counts against the limit
        check_budget([VolumeUse("vol1", 255, 3, (unlimited, hourly), held={"ds/archive": 160})])
    assert "ds/archive 160" in caught.value.message


def test_unacknowledged_unlimited_is_refused_and_says_how_to_acknowledge():
    unlimited = PolicyLoad("ds", "archive", Retention("unlimited"), None, "crash")
    with pytest.raises(SmhvError) as caught:
        check_budget([VolumeUse("vol1", 1023, 0, (unlimited,), held={"ds/archive": 1})])
    assert "acknowledge_unlimited: true" in caught.value.message
    assert unlimited_warnings([volume_budget(VolumeUse("vol1", 1023, 0, (unlimited,))).as_dict()]) == []
