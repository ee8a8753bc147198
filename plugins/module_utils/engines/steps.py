# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every engine is made of (docs/durability.md): named, timed steps, and an undo log read from the operation's
journal.

    steps = Steps(time.monotonic)
    steps.run("snapshot", take_snapshots)          # StepFailed(step, error) on any failure
    undone, left, codes = undo_log(journal, UNDO, context)  # newest first, each step's undo given the journal's data

An engine journals the intent of every side effect before it acts (journal.intend) and what it made after
(journal.done), so the undo log names everything the operation may have made even when an answer was lost. An undo
function gets (context, data, journal) and returns ([what it undid], [what it could not]), or raises SmhvError (nothing
undone) or UndoStopped; it must be idempotent (absent counts as undone), since a recovery may run it again.
`backup/` is the backup engine.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


class StepFailed(Exception):
    """A step's failure: the step's name and the error it raised."""

    def __init__(self, step, error):
        super().__init__(step)
        self.step = step
        self.error = error


class UndoStopped(Exception):
    """Raised by an undo function whose failure must stop the undo: what comes before it in the log may only be undone
    once it is (a backup's record: its snapshots stay while the record may exist)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class Steps:
    """Runs named steps and times them: [{"step", "seconds", "state"}] in `timings`."""

    def __init__(self, monotonic):
        self.monotonic = monotonic
        self.timings = []

    def run(self, name, function, *args):
        started = self.monotonic()
        try:
            result = function(*args)
        except Exception as error:  # pylint: disable=broad-except
            self.timings.append({"step": name, "seconds": round(self.monotonic() - started, 3), "state": "failed"})
            raise StepFailed(name, error) from error
        self.timings.append({"step": name, "seconds": round(self.monotonic() - started, 3), "state": "done"})
        return result


def message_of(error):
    return error.message if isinstance(error, SmhvError) else "%s: %s" % (type(error).__name__, error)


def undo_log(journal, undoers, context):
    """Undo every step of `journal`'s undo log, newest first, with `undoers[step](context, data, journal)`; a step
    without an undo function had no side effect to undo. Each step undone is marked so in the journal, so that a
    later recovery does not redo it. Returns (undone, left, codes): texts, and the error codes of the undo functions that raised."""
    undone, left, codes = [], [], []
    for step, data in journal.undo_log():
        function = undoers.get(step)
        try:
            done, missed = function(context, data, journal) if function is not None else ([], [])
        except UndoStopped as stopped:
            left.append(str(stopped))
            codes.append(stopped.code)
            break
        except Exception as error:  # pylint: disable=broad-except
            done, missed = [], ["%s: %s" % (step, message_of(error))]
            codes.append(error.code if isinstance(error, SmhvError) else "INTERNAL_ERROR")
        undone += done
        left += missed
        if not missed:
            try:
                journal.undone(step)
            except Exception:  # pylint: disable=broad-except
                pass  # undo is idempotent: a recovery that finds the step not marked undoes it again
    return undone, left, codes
