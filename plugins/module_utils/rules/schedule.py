# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy schedules: hourly / daily / weekly / monthly at a time, or a 5-field cron expression.

    schedule = parse_schedule({"frequency": "daily", "at": "02:30", "timezone": "Europe/Berlin"})
    is_due(schedule, last_run, now)      # catch up once: missed runs never stack
    next_run(schedule, after)            # first run strictly after `after`
    previous_run(schedule, at_or_before)

Times are evaluated on the wall clock of the schedule's time zone (an IANA name, default UTC) and
returned as aware UTC datetimes. Across a DST change a wall time that does not exist runs once, at
the same offset as before the change, and a wall time that happens twice runs once, the first time.

Cron follows Vixie cron (crontab(5)): fields minute hour day-of-month month day-of-week; `*`, lists,
ranges, `*/step` and `a-b/step`; month names jan-dec and weekday names sun-sat; 0 and 7 are Sunday;
when both day fields are restricted (neither starts with `*`) a day matches if EITHER matches.
The macros @hourly @daily @midnight @weekly @monthly @yearly @annually are accepted.

A monthly schedule on a day the month lacks (31, or 29-30 in February) runs on the month's last day,
as Windows Task Scheduler's "last day" does, instead of skipping the month as cron would.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python >= 3.9 always has it; the module needs 3.11
    zoneinfo = None

FREQUENCIES = ("hourly", "daily", "weekly", "monthly", "cron")
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTH_NAMES = {name: number for number, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                                            "oct", "nov", "dec"), start=1)}
_DAY_NAMES = {name[:3]: number for number, name in enumerate(WEEKDAYS)}
_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
# A day pattern that matches at all repeats within 8 years (Feb 29 skips 1900/2100-type years).
_SEARCH_DAYS = 8 * 366 + 1


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A parsed schedule. `minutes` and `hours` are sorted tuples; day matching is `matches_day`."""

    frequency: str
    timezone: str
    minutes: tuple
    hours: tuple
    # Day rule: month set, day-of-month set, weekday set (0 = Sunday), the cron OR rule, and the
    # monthly "last day" clamp. Unrestricted fields hold every value.
    months: tuple = tuple(range(1, 13))
    days_of_month: tuple = tuple(range(1, 32))
    weekdays: tuple = tuple(range(7))
    day_or_weekday: bool = False
    clamp_to_month_end: bool = False
    text: str = ""  # how the user wrote it, for messages

    def matches_day(self, day):
        if day.month not in self.months:
            return False
        if self.clamp_to_month_end:
            last = calendar.monthrange(day.year, day.month)[1]
            return day.day == min(self.days_of_month[0], last)
        dom = day.day in self.days_of_month
        dow = (day.isoweekday() % 7) in self.weekdays
        return (dom or dow) if self.day_or_weekday else (dom and dow)

    @property
    def zone(self):
        return _zone(self.timezone)

    @property
    def min_interval(self):
        """A lower bound of the time between two runs, for converting keep-by-age into a count."""
        return {"hourly": datetime.timedelta(hours=1), "daily": datetime.timedelta(days=1), "weekly": datetime.timedelta(days=7),
                "monthly": datetime.timedelta(days=28)}.get(self.frequency)


def _invalid(message, **details):
    return SmhvError("INVALID_ARGUMENT", message, details)


def _zone(name):
    if name in ("UTC", "Z"):
        return datetime.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise _invalid("Unknown time zone %r (%s); use an IANA name such as 'Europe/Berlin' or 'UTC'." % (name, exc),
                       timezone=name) from None


def _parse_at(text, where):
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(text))
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise _invalid("%s: 'at' must be a time HH:MM (00:00 to 23:59), got %r." % (where, text), at=text)
    return int(match.group(1)), int(match.group(2))


def _cron_value(token, names, low, high, field):
    value = names.get(token.lower()) if names else None
    if value is None:
        if not token.isdigit():
            raise _invalid("Cron %s field: %r is not a number%s." % (field, token, " or a name" if names else ""), field=field)
        value = int(token)
    if not low <= value <= high:
        raise _invalid("Cron %s field: %d is outside %d-%d." % (field, value, low, high), field=field)
    return value


def _cron_field(text, field, low, high, names=None):
    """The sorted values of one cron field, and whether it is restricted (does not start with '*')."""
    values = set()
    for part in text.split(","):
        if not part:
            raise _invalid("Cron %s field %r has an empty list element." % (field, text), field=field)
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise _invalid("Cron %s field: step %r must be a positive number." % (field, step_text), field=field)
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first = _cron_value(first_text, names, low, high, field)
            last = _cron_value(last_text, names, low, high, field)
            if first > last:
                raise _invalid("Cron %s field: range %r runs backwards." % (field, base), field=field)
        else:
            if slash:
                raise _invalid("Cron %s field: a step needs '*' or a range before it, got %r." % (field, part), field=field)
            first = last = _cron_value(base, names, low, high, field)
        values.update(range(first, last + 1, step))
    return tuple(sorted(values)), not text.startswith("*")


def parse_cron(expression, timezone="UTC"):
    """A Schedule from a 5-field cron expression (or a macro such as @daily)."""
    text = str(expression).strip()
    fields = _MACROS.get(text.lower(), text).split()
    if len(fields) != 5:
        raise _invalid("Cron expression %r needs 5 fields (minute hour day-of-month month day-of-week), it has %d."
                       % (text, len(fields)), cron=text)
    minutes = _cron_field(fields[0], "minute", 0, 59)[0]
    hours = _cron_field(fields[1], "hour", 0, 23)[0]
    days, days_restricted = _cron_field(fields[2], "day-of-month", 1, 31)
    months = _cron_field(fields[3], "month", 1, 12, _MONTH_NAMES)[0]
    weekdays, weekdays_restricted = _cron_field(fields[4], "day-of-week", 0, 7, _DAY_NAMES)
    weekdays = tuple(sorted(set(day % 7 for day in weekdays)))
    schedule = Schedule("cron", timezone, minutes, hours, months, days, weekdays, day_or_weekday=days_restricted and weekdays_restricted,
                        text=text)
    _zone(timezone)
    if next_run(schedule, datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)) is None:
        raise _invalid("Cron expression %r never runs (no such day, e.g. February 30)." % text, cron=text)
    return schedule


def parse_schedule(spec):
    """A Schedule from a policy's `schedule` option.

    {"frequency": "hourly", "minute": 15}, {"frequency": "daily", "at": "02:30"},
    {"frequency": "weekly", "at": "03:00", "weekday": "sunday"},
    {"frequency": "monthly", "at": "04:00", "day_of_month": 1},
    {"frequency": "cron", "cron": "0 */4 * * mon-fri"}; each with an optional "timezone" (default UTC).
    """
    frequency = spec.get("frequency")
    timezone = spec.get("timezone") or "UTC"
    if frequency not in FREQUENCIES:
        raise _invalid("Schedule frequency must be one of %s, got %r." % (", ".join(FREQUENCIES), frequency), frequency=frequency)
    _zone(timezone)
    if frequency == "cron":
        if not spec.get("cron"):
            raise _invalid("Schedule frequency 'cron' needs a 'cron' expression such as '0 2 * * *'.")
        return parse_cron(spec["cron"], timezone)
    if frequency == "hourly":
        minute = spec.get("minute", 0)
        if not isinstance(minute, int) or isinstance(minute, bool) or not 0 <= minute <= 59:
            raise _invalid("Hourly schedule: 'minute' must be 0-59, got %r." % (minute,), minute=minute)
        return Schedule("hourly", timezone, (minute,), tuple(range(24)), text="hourly at :%02d" % minute)
    hour, minute = _parse_at(spec.get("at", "00:00"), "%s schedule" % frequency.capitalize())
    text = "%s at %02d:%02d" % (frequency, hour, minute)
    if frequency == "daily":
        return Schedule("daily", timezone, (minute,), (hour,), text=text)
    if frequency == "weekly":
        weekday = str(spec.get("weekday", "sunday")).lower()
        if weekday not in WEEKDAYS:
            raise _invalid("Weekly schedule: 'weekday' must be one of %s, got %r." % (", ".join(WEEKDAYS), spec.get("weekday")),
                           weekday=spec.get("weekday"))
        return Schedule("weekly", timezone, (minute,), (hour,), weekdays=(WEEKDAYS.index(weekday),), text="%s on %s" % (text, weekday))
    day = spec.get("day_of_month", 1)
    if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 31:
        raise _invalid("Monthly schedule: 'day_of_month' must be 1-31 (days past a month's end run on its last day), got %r."
                       % (day,), day_of_month=day)
    return Schedule("monthly", timezone, (minute,), (hour,), days_of_month=(day,), clamp_to_month_end=True,
                    text="%s on day %d" % (text, day))


def _aware(when, name):
    if not isinstance(when, datetime.datetime) or when.utcoffset() is None:
        raise ValueError("%s must be a time zone aware datetime, got %r" % (name, when))
    return when


def _day_runs(schedule, day):
    """The runs on local date `day` as sorted aware UTC datetimes (a DST change can reorder or merge wall times)."""
    if not schedule.matches_day(day):
        return ()
    zone = schedule.zone
    return sorted(set(datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(datetime.timezone.utc)
                      for hour in schedule.hours for minute in schedule.minutes))


def iter_runs(schedule, after):
    """The runs strictly after `after` (aware), in order, as aware UTC; ends after 8 years without a run."""
    day = _aware(after, "after").astimezone(schedule.zone).date()
    for offset in range(_SEARCH_DAYS):
        for when in _day_runs(schedule, day + datetime.timedelta(days=offset)):
            if when > after:
                yield when


def next_run(schedule, after):
    """The first run strictly after `after` (aware), as aware UTC; None if there is none (never for a parsed schedule)."""
    return next(iter_runs(schedule, after), None)


def previous_run(schedule, at_or_before):
    """The latest run at or before `at_or_before` (aware), as aware UTC, or None within 8 years."""
    day = _aware(at_or_before, "at_or_before").astimezone(schedule.zone).date()
    for offset in range(_SEARCH_DAYS):
        earlier = [when for when in _day_runs(schedule, day - datetime.timedelta(days=offset)) if when <= at_or_before]
        if earlier:
            return earlier[-1]
    return None


def is_due(schedule, last_run, now):
    """Whether a run is due at `now`: the latest scheduled time at or before `now` is after `last_run`.

    Missed runs (the controller was down for three hours of an hourly policy) make ONE run due, not
    three. `last_run` is the time of the last run (successful or not), or for a policy that never
    ran the time it was created, so creating a policy does not start a backup at once; None means
    "never", and any past scheduled time is then due.
    """
    latest = previous_run(schedule, now)
    if latest is None:
        return False
    return last_run is None or latest > _aware(last_run, "last_run")


def runs_between(schedule, start, end, limit):
    """The run times in (start, end], at most `limit` of them (callers only need to know "more than N")."""
    runs = []
    for when in iter_runs(schedule, start):
        if when > end or len(runs) == limit:
            break
        runs.append(when)
    return runs
