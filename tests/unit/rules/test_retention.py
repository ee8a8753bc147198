"""Retention plans: per dataset and tag, never the last good backup, failed attempts apart, busy skipped."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import backup_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import Retention, RetentionCandidate, parse_age, plan_retention

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 3, 14, 12, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)


def backup(hours_ago, dataset="ds", tag="hourly", status="ok", busy=False, busy_reason=""):
    when = NOW - hours_ago * HOUR
    return RetentionCandidate(backup_name(dataset, when), dataset, when, tag, status, busy, busy_reason)


def names(decisions):
    return [decision.backup.name for decision in decisions]


def test_keep_by_count_deletes_the_oldest_first():
    backups = [backup(h) for h in range(5)]
    plan = plan_retention("ds", Retention("hourly", count=3), backups, NOW)
    assert names(plan.delete) == [backups[4].name, backups[3].name]
    assert names(plan.keep) == [backups[2].name, backups[1].name, backups[0].name]
    assert "beyond the newest 3 good hourly" in plan.delete[0].reason


def test_only_the_dataset_and_tag_are_touched():
    backups = [backup(h) for h in range(3)] + [backup(h, dataset="other") for h in range(5)] + [backup(h, tag="daily") for h in range(5)]
    plan = plan_retention("ds", Retention("hourly", count=1), backups, NOW)
    assert names(plan.delete) == [backups[2].name, backups[1].name]
    assert all(d.backup.dataset == "ds" and d.backup.tag == "hourly" for d in plan.delete + plan.keep)


def test_keep_by_age_is_strictly_younger_than_the_age():
    backups = [backup(h) for h in (0, 23, 24, 30)]
    plan = plan_retention("ds", Retention("hourly", age=datetime.timedelta(days=1)), backups, NOW)
    assert names(plan.delete) == [backups[3].name, backups[2].name]
    assert "retention keeps good younger than 1 day" in plan.delete[0].reason


def test_the_last_good_backup_survives_an_expired_age():
    backups = [backup(h) for h in (100, 200)] + [backup(1, status="failed")]
    plan = plan_retention("ds", Retention("hourly", age=datetime.timedelta(days=1)), backups, NOW)
    assert names(plan.delete) == [backups[1].name]
    kept = {d.backup.name: d.reason for d in plan.keep}
    assert "always kept" in kept[backups[0].name]


def test_failures_do_not_push_good_backups_out():
    good = [backup(h) for h in (5, 6, 7)]
    failed = [backup(h, status="failed") for h in (0, 1, 2, 3)]
    plan = plan_retention("ds", Retention("hourly", count=3), good + failed, NOW)
    assert set(names(plan.keep)) >= {b.name for b in good}
    # Failed attempts have their own window: the newest 3 stay, the oldest goes.
    assert names(plan.delete) == [failed[3].name]
    assert "failed" in plan.delete[0].reason


def test_busy_backups_are_skipped_with_the_reason_and_nothing_replaces_them():
    backups = [backup(0), backup(1), backup(2, busy=True, busy_reason="LUN clone smhv_mount_1 depends on it"), backup(3)]
    plan = plan_retention("ds", Retention("hourly", count=2), backups, NOW)
    assert names(plan.delete) == [backups[3].name]
    assert names(plan.skipped_busy) == [backups[2].name]
    assert "LUN clone smhv_mount_1" in plan.skipped_busy[0].reason
    assert plan.as_dict()["skipped_busy"][0]["name"] == backups[2].name


def test_unlimited_never_deletes():
    backups = [backup(h, tag="unlimited") for h in range(400)]
    plan = plan_retention("ds", Retention("unlimited"), backups, NOW)
    assert plan.delete == () and len(plan.keep) == 400


def test_plan_is_deterministic_whatever_the_input_order():
    backups = [backup(h) for h in range(10)]
    forward = plan_retention("ds", Retention("hourly", count=4), backups, NOW)
    backward = plan_retention("ds", Retention("hourly", count=4), list(reversed(backups)), NOW)
    assert forward == backward
    assert [d.backup.time for d in forward.delete] == sorted(d.backup.time for d in forward.delete)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"tag": "yearly", "count": 1}, "must be one of hourly, daily, weekly, monthly, unlimited"),
    ({"tag": "daily"}, "needs exactly one of count"),
    ({"tag": "daily", "count": 3, "age": datetime.timedelta(days=1)}, "needs exactly one of count"),
    ({"tag": "daily", "count": 0}, "at least 1"),
    ({"tag": "daily", "age": datetime.timedelta(0)}, "positive duration"),
    ({"tag": "unlimited", "count": 5}, "do not give a count or an age"),
])
def test_bad_retention_is_refused(kwargs, fragment):
    with pytest.raises(SmhvError) as caught:
        Retention(**kwargs)
    assert fragment in caught.value.message


@pytest.mark.parametrize("text, seconds", [("30d", 30 * 86400), (" 12 h ", 12 * 3600), ("4w", 4 * 604800), ("90m", 5400)])
def test_one_age_rule_for_policies_and_on_demand_backups(text, seconds):
    assert parse_age(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["0d", "3600s", "30", "d", "-1d", "1.5d", None])
def test_ages_that_are_not_a_positive_whole_unit_are_refused(text):
    with pytest.raises(SmhvError) as caught:
        parse_age(text)
    assert caught.value.code == "INVALID_ARGUMENT" and "positive number with a unit" in caught.value.message
