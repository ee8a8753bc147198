"""The back-off a job still running after ONTAP's answer is looked at with (issue 20), on a simulated clock."""
from __future__ import annotations

import itertools

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.job_waits import poll_delays, wait_until_ended


class FakeClock:
    """A monotonic clock that sleeping moves forward; a job that ends at `job_ends` seconds."""

    def __init__(self, job_ends):
        self.now = 0.0
        self.job_ends = job_ends
        self.looks = []

    def sleep(self, seconds):
        assert seconds > 0
        self.now += seconds

    def still_running(self):
        self.looks.append(self.now)
        return self.now < self.job_ends


def test_the_pauses_start_short_and_double_up_to_a_second():
    assert list(itertools.islice(poll_delays(), 8)) == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("job_ends", [0.01, 0.12, 0.3, 0.35])
def test_a_job_ending_within_0_35_s_of_the_answer_is_seen_within_0_2_s(job_ends):
    clock = FakeClock(job_ends)
    assert wait_until_ended(clock.still_running, 60, sleep=clock.sleep, clock=lambda: clock.now)
    assert job_ends <= clock.now <= job_ends + 0.2


@pytest.mark.parametrize("job_ends", [0.36, 2.0, 7.3, 45.55])
def test_a_long_job_is_seen_within_a_second_and_read_about_once_a_second(job_ends):
    clock = FakeClock(job_ends)
    assert wait_until_ended(clock.still_running, 60, sleep=clock.sleep, clock=lambda: clock.now)
    assert job_ends <= clock.now <= job_ends + 1.0
    assert len(clock.looks) <= job_ends + 5  # 5 looks in the first 1.55 s, then one a second


def test_a_job_outlasting_the_time_left_is_given_up_at_that_time():
    clock = FakeClock(1000)
    assert not wait_until_ended(clock.still_running, 2.5, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.now == pytest.approx(2.5)  # the last pause is cut to what was left


def test_no_time_left_means_no_look():
    clock = FakeClock(1000)
    assert not wait_until_ended(clock.still_running, 0, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.looks == []
