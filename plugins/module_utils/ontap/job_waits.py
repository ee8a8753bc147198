# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for something on ONTAP that is still running, with a short back-off instead of a fixed interval.

ONTAP answers a POST, PATCH or DELETE with `return_timeout` when its job ends (201/200) or, if the job outlasts
it, with 202 while the job still runs. netapp-ontap then polls at one fixed interval (5 s by default), so a job
ending just after ONTAP's answer cost up to a whole interval more than its own duration. The client looks again
after FIRST_POLL_SECONDS instead, then twice as long each time up to LONGEST_POLL_SECONDS: a job that ends soon
after the answer is seen within a few tenths of a second, a long one is read about once a second. SnapMirror
waits (ontap/snapmirror.py) use the same schedule.
"""

from __future__ import annotations

import time

FIRST_POLL_SECONDS = 0.05
LONGEST_POLL_SECONDS = 1.0


def poll_delays(first=FIRST_POLL_SECONDS, longest=LONGEST_POLL_SECONDS):
    """Endless pauses between looks: first, twice that, ... capped at longest."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, longest)


def wait_until_ended(still_running, seconds, sleep=None, clock=None):
    """Look at still_running() after each pause of poll_delays() until it says False or `seconds` have passed.

    Returns True when it ended, False when the time ran out first (the caller reports the timeout). The last
    pause is cut to what is left, so the wait never outlasts `seconds` by more than one look. sleep and clock
    default to time.sleep and time.monotonic as they are at the call (tests replace them).
    """
    sleep, clock = sleep or time.sleep, clock or time.monotonic
    deadline = clock() + seconds
    for delay in poll_delays():
        left = deadline - clock()
        if left <= 0:
            return False
        sleep(min(delay, left))
        if not still_running():
            return True
    return False  # not reached: poll_delays() never ends
