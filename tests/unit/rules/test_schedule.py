"""Schedules: frequency shapes, a correct cron matcher, next/previous runs, and catch-up once."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.schedule import (
    is_due, next_run, parse_cron, parse_schedule, previous_run, runs_between)

UTC = datetime.timezone.utc


def at(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def runs(schedule, start, count):
    return runs_between(schedule, start, start + datetime.timedelta(days=800), count)


def test_hourly_daily_weekly_monthly():
    start = at(2026, 3, 14, 9, 30)  # a Saturday
    assert runs(parse_schedule({"frequency": "hourly", "minute": 15}), start, 2) == [at(2026, 3, 14, 10, 15), at(2026, 3, 14, 11, 15)]
    assert runs(parse_schedule({"frequency": "daily", "at": "02:30"}), start, 2) == [at(2026, 3, 15, 2, 30), at(2026, 3, 16, 2, 30)]
    assert runs(parse_schedule({"frequency": "weekly", "at": "03:00", "weekday": "Monday"}), start, 2) == [
        at(2026, 3, 16, 3), at(2026, 3, 23, 3)]
    assert runs(parse_schedule({"frequency": "monthly", "at": "04:00", "day_of_month": 1}), start, 2) == [at(2026, 4, 1, 4), at(2026, 5, 1, 4)]


def test_monthly_on_the_31st_runs_on_the_last_day_of_short_months():
    monthly = parse_schedule({"frequency": "monthly", "at": "00:00", "day_of_month": 31})
    assert runs(monthly, at(2026, 1, 1), 4) == [at(2026, 1, 31), at(2026, 2, 28), at(2026, 3, 31), at(2026, 4, 30)]


def test_schedule_in_a_time_zone_follows_its_wall_clock_across_dst():
    daily = parse_schedule({"frequency": "daily", "at": "02:30", "timezone": "Europe/Berlin"})
    # Winter: UTC+1; spring-forward on 2026-03-29 has no 02:30, it runs once at the old offset; summer: UTC+2.
    assert runs(daily, at(2026, 3, 27, 12), 4) == [at(2026, 3, 28, 1, 30), at(2026, 3, 29, 1, 30), at(2026, 3, 30, 0, 30),
                                                   at(2026, 3, 31, 0, 30)]


def test_cron_lists_ranges_steps_and_names():
    cron = parse_cron("0,30 9-17/4 * jan-mar mon-fri")
    assert cron.minutes == (0, 30) and cron.hours == (9, 13, 17) and cron.months == (1, 2, 3) and cron.weekdays == (1, 2, 3, 4, 5)
    assert runs(cron, at(2026, 3, 13, 17, 0), 3) == [at(2026, 3, 13, 17, 30), at(2026, 3, 16, 9), at(2026, 3, 16, 9, 30)]


def test_cron_sunday_is_0_and_7():
    assert parse_cron("0 0 * * 7").weekdays == (0,)
    assert parse_cron("0 0 * * 5-7").weekdays == (0, 5, 6)


def test_cron_day_of_month_or_day_of_week_when_both_restricted():
    # The 13th OR any Friday (Vixie cron), not "Friday the 13th".
    cron = parse_cron("0 12 13 * fri")
    assert runs(cron, at(2026, 3, 1), 4) == [at(2026, 3, 6, 12), at(2026, 3, 13, 12), at(2026, 3, 20, 12), at(2026, 3, 27, 12)]
    assert runs(cron, at(2026, 4, 1), 2) == [at(2026, 4, 3, 12), at(2026, 4, 10, 12)]
    assert at(2026, 4, 13, 12) in runs(cron, at(2026, 4, 1), 5)


def test_cron_star_step_counts_as_unrestricted_for_the_or_rule():
    # "*/2" starts with '*', so the day fields AND instead of OR (the crontab(5) quirk): Mondays on odd days.
    assert runs(parse_cron("0 0 */2 * mon"), at(2026, 3, 1), 2) == [at(2026, 3, 9), at(2026, 3, 23)]


def test_cron_macros():
    assert runs(parse_cron("@daily"), at(2026, 3, 14, 1), 1) == [at(2026, 3, 15)]
    assert runs(parse_cron("@monthly"), at(2026, 3, 14), 1) == [at(2026, 4, 1)]


def test_leap_day_cron_runs_every_four_years():
    assert runs(parse_cron("0 0 29 feb *"), at(2026, 3, 1), 1) == [at(2028, 2, 29)]


@pytest.mark.parametrize("expression, fragment", [
    ("0 2 * *", "needs 5 fields"),
    ("60 * * * *", "60 is outside 0-59"),
    ("0 24 * * *", "24 is outside 0-23"),
    ("0 0 0 * *", "0 is outside 1-31"),
    ("0 0 * 13 *", "13 is outside 1-12"),
    ("0 0 * * 8", "8 is outside 0-7"),
    ("0 0 * foo *", "'foo' is not a number or a name"),
    ("5-1 * * * *", "runs backwards"),
    ("5/15 * * * *", "a step needs '*' or a range"),
    ("*/0 * * * *", "must be a positive number"),
    ("1,,2 * * * *", "empty list element"),
    ("0 0 30 feb *", "never runs"),
])
def test_bad_cron_says_what_is_wrong(expression, fragment):
    with pytest.raises(SmhvError) as caught:
        parse_cron(expression)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert fragment in caught.value.message


@pytest.mark.parametrize("spec, fragment", [
    ({"frequency": "fortnightly"}, "must be one of hourly, daily, weekly, monthly, cron"),
    ({"frequency": "daily", "at": "25:00"}, "'at' must be a time HH:MM"),
    ({"frequency": "hourly", "minute": 60}, "'minute' must be 0-59"),
    ({"frequency": "weekly", "weekday": "funday"}, "'weekday' must be one of"),
    ({"frequency": "monthly", "day_of_month": 0}, "'day_of_month' must be 1-31"),
    ({"frequency": "cron"}, "needs a 'cron' expression"),
    ({"frequency": "daily", "timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
])
def test_bad_schedule_options(spec, fragment):
    with pytest.raises(SmhvError) as caught:
        parse_schedule(spec)
    assert fragment in caught.value.message


def test_next_and_previous_run_are_strict_and_inclusive():
    hourly = parse_schedule({"frequency": "hourly"})
    assert next_run(hourly, at(2026, 3, 14, 9)) == at(2026, 3, 14, 10)
    assert previous_run(hourly, at(2026, 3, 14, 9)) == at(2026, 3, 14, 9)
    assert previous_run(hourly, at(2026, 3, 14, 9, 59)) == at(2026, 3, 14, 9)


def test_is_due_catches_up_once_not_per_missed_run():
    hourly = parse_schedule({"frequency": "hourly"})
    last = at(2026, 3, 14, 6)
    now = at(2026, 3, 14, 9, 10)  # 07:00, 08:00 and 09:00 were missed
    assert is_due(hourly, last, now)
    # The catch-up run records its start as last_run: the missed 07:00 and 08:00 do not make it due again.
    assert not is_due(hourly, now, at(2026, 3, 14, 9, 50))
    assert is_due(hourly, now, at(2026, 3, 14, 10))


def test_is_due_not_before_the_first_scheduled_time_after_creation():
    daily = parse_schedule({"frequency": "daily", "at": "02:00"})
    created = at(2026, 3, 14, 14)
    assert not is_due(daily, created, at(2026, 3, 14, 23))
    assert is_due(daily, created, at(2026, 3, 15, 2))
    assert is_due(daily, None, at(2026, 3, 14, 14))


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        next_run(parse_schedule({"frequency": "hourly"}), datetime.datetime(2026, 3, 14))
