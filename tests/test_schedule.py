"""schedule.py: RRULE expansion in Brussels time, across daylight saving, with exceptions."""

from __future__ import annotations

from datetime import date, datetime

from finder.schedule import expand, to_local, when_window


def test_weekly_session_keeps_local_time_across_dst_end() -> None:
    # Summer time ends on Sunday 25 October 2026.
    sessions = expand(
        "FREQ=WEEKLY;BYDAY=WE",
        datetime(2026, 10, 14, 14, 0),
        120,
        [],
        datetime(2026, 10, 13),
        datetime(2026, 11, 1),
    )
    local = [to_local(s.starts_at) for s in sessions]
    assert [d.day for d in local] == [14, 21, 28]
    assert all((d.hour, d.minute) == (14, 0) for d in local)
    assert [s.starts_at.hour for s in sessions] == [12, 12, 13]  # UTC moves, wall clock does not


def test_weekly_session_keeps_local_time_across_dst_start() -> None:
    # Summer time starts on Sunday 29 March 2026.
    sessions = expand(
        "FREQ=WEEKLY;BYDAY=SA",
        datetime(2026, 3, 21, 10, 0),
        90,
        [],
        datetime(2026, 3, 20),
        datetime(2026, 4, 5),
    )
    assert [to_local(s.starts_at).hour for s in sessions] == [10, 10, 10]
    assert [s.starts_at.hour for s in sessions] == [9, 9, 8]  # 21 and 28 March, then 4 April
    assert all((s.ends_at - s.starts_at).total_seconds() == 90 * 60 for s in sessions)


def test_exceptions_are_skipped() -> None:
    sessions = expand(
        "FREQ=WEEKLY;BYDAY=FR",
        datetime(2026, 12, 4, 9, 0),
        60,
        [date(2026, 12, 25)],
        datetime(2026, 12, 1),
        datetime(2027, 1, 5),
    )
    days = [to_local(s.starts_at).date() for s in sessions]
    assert date(2026, 12, 25) not in days and date(2027, 1, 1) in days and len(days) == 4


def test_monthly_first_saturday_and_last_wednesday() -> None:
    first_sat = expand(
        "FREQ=MONTHLY;BYDAY=1SA",
        datetime(2026, 1, 3, 10),
        60,
        [],
        datetime(2026, 11, 25),
        datetime(2027, 1, 31),
    )
    assert [to_local(s.starts_at).date() for s in first_sat] == [
        date(2026, 12, 5),
        date(2027, 1, 2),
    ]
    last_wed = expand(
        "FREQ=MONTHLY;BYDAY=-1WE",
        datetime(2026, 1, 28, 9),
        60,
        [],
        datetime(2026, 11, 25),
        datetime(2027, 1, 31),
    )
    assert [to_local(s.starts_at).date() for s in last_wed] == [
        date(2026, 11, 25),
        date(2026, 12, 30),
        date(2027, 1, 27),
    ]


def test_fortnightly_and_one_off() -> None:
    every_other = expand(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        datetime(2026, 11, 3, 18),
        60,
        [],
        datetime(2026, 11, 1),
        datetime(2026, 12, 10),
    )
    assert [to_local(s.starts_at).day for s in every_other] == [3, 17, 1]
    once = expand(
        None, datetime(2026, 12, 12, 11), 180, [], datetime(2026, 12, 1), datetime(2027, 1, 1)
    )
    assert len(once) == 1 and to_local(once[0].starts_at).hour == 11
    assert (
        expand(
            None, datetime(2026, 10, 12, 11), 60, [], datetime(2026, 12, 1), datetime(2027, 1, 1)
        )
        == []
    )


def test_a_session_under_way_still_counts() -> None:
    sessions = expand(
        "FREQ=WEEKLY;BYDAY=WE",
        datetime(2026, 11, 4, 14),
        120,
        [],
        datetime(2026, 12, 2, 14),
        datetime(2026, 12, 3),
    )  # 15:00 local, mid-session
    assert len(sessions) == 1


def test_when_windows_in_brussels_time() -> None:
    wednesday = datetime(2026, 12, 2, 8, 0)  # 09:00 in Brussels
    today = when_window("today", wednesday, 8)
    assert today.start == wednesday and today.end == datetime(2026, 12, 2, 23, 0)
    week = when_window("week", wednesday, 8)
    assert week.end == datetime(2026, 12, 8, 23, 0)
    weekend = when_window("weekend", wednesday, 8)
    assert (weekend.start, weekend.end) == (datetime(2026, 12, 4, 23), datetime(2026, 12, 6, 23))
    sunday = datetime(2026, 12, 6, 10, 0)
    assert when_window("weekend", sunday, 8).start == sunday
    assert when_window("weekend", sunday, 8).end == datetime(2026, 12, 6, 23)


import pytest  # noqa: E402

from finder.schedule import Recurrence, ScheduleError, from_rrule, to_rrule  # noqa: E402


@pytest.mark.parametrize(
    ("rec", "rule"),
    [
        (Recurrence("weekly", weekdays=("WE",)), "FREQ=WEEKLY;BYDAY=WE"),
        (Recurrence("weekly", weekdays=("FR", "MO")), "FREQ=WEEKLY;BYDAY=MO,FR"),
        (Recurrence("fortnightly", weekdays=("TU",)), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"),
        (Recurrence("monthly", week_of_month=1, monthly_day="SA"), "FREQ=MONTHLY;BYDAY=1SA"),
        (
            Recurrence("monthly", week_of_month=-1, monthly_day="WE", until=date(2027, 6, 30)),
            "FREQ=MONTHLY;BYDAY=-1WE;UNTIL=20270630T215959Z",
        ),
        (Recurrence("once"), None),
    ],
)
def test_recurrence_to_rule_and_back(rec: Recurrence, rule: str | None) -> None:
    assert to_rrule(rec, date(2026, 12, 1)) == rule
    back = from_rrule(rule)
    assert back.repeat == rec.repeat and back.until == rec.until
    assert to_rrule(back, date(2026, 12, 1)) == rule


@pytest.mark.parametrize(
    ("rec", "code"),
    [
        (Recurrence("weekly"), "weekday_needed"),
        (Recurrence("monthly", week_of_month=7), "monthly_day_needed"),
        (Recurrence("weekly", weekdays=("MO",), until=date(2026, 11, 1)), "until_before_first"),
        (Recurrence("daily"), "repeat_unknown"),
    ],
)
def test_impossible_schedules_are_refused(rec: Recurrence, code: str) -> None:
    with pytest.raises(ScheduleError) as err:
        to_rrule(rec, date(2026, 12, 1))
    assert err.value.code == code


def test_until_ends_the_sessions() -> None:
    rule = to_rrule(
        Recurrence("weekly", weekdays=("WE",), until=date(2026, 12, 16)), date(2026, 12, 2)
    )
    sessions = expand(
        rule, datetime(2026, 12, 2, 14), 60, [], datetime(2026, 12, 1), datetime(2027, 2, 1)
    )
    assert [to_local(s.starts_at).day for s in sessions] == [2, 9, 16]
