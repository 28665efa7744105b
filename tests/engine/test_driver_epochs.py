"""A unit trained again (a cluster's lost worker, from its last checkpoint or from its start)
reports epochs it had reported: the study's driver tells progress each (run, epoch) once, so the
bar ends at the study's epochs. Here by hand, without a cluster (tests/test_ray.py does it on one)."""

from __future__ import annotations

import io

from rich.console import Console

from reglab.config import parse_study
from reglab.engine.scheduler import StudyDriver, Unit
from reglab.progress.events import Observers, Recorder
from reglab.progress.terminal import TerminalProgress
from reglab.store.memory import MemoryStore
from reglab.store.records import EpochRecord

STUDY = '[defaults]\nepochs = 6\n[[variants]]\nname = "plain"\n[[variants]]\nname = "dropout"\ndropout = 0.2\n'


def epoch(number: int) -> EpochRecord:
    return EpochRecord(number, 1.0 / (number + 1), 0.5, 1.0, 0.5, 0.01, 0.1)


def test_epochs_reported_again_by_a_retried_unit_count_once():
    plain, dropout = parse_study(STUDY).variants
    first, second = Unit(((0, plain, 0),), False), Unit(((1, dropout, 0),), False)
    bar = TerminalProgress(Console(file=io.StringIO(), width=80))
    heard = Recorder()
    driver = StudyDriver(MemoryStore(), Observers(bar, heard), None)
    bar.study_started(2, 12)

    driver.unit_started(first)
    driver.unit_started(second)
    for number in range(4):  # the first unit's node dies after its epoch 3; its checkpoint is of epoch 2
        driver.epoch_finished(first, 0, epoch(number))
    for number in range(2):  # the second unit's worker dies after epoch 1 and it had no checkpoint
        driver.epoch_finished(second, 0, epoch(number))
    driver.unit_started(first)
    for number in range(3, 6):  # again from the checkpoint: epoch 3 a second time
        driver.epoch_finished(first, 0, epoch(number))
    driver.unit_started(second)
    for number in range(6):  # again from its start
        driver.epoch_finished(second, 0, epoch(number))

    told = [(variant.name, record.epoch) for variant, record in heard.of("epoch_finished")]
    assert sorted(told) == sorted([("plain", n) for n in range(6)] + [("dropout", n) for n in range(6)])
    assert bar.progress.tasks[0].completed == 12  # not 16: the four epochs trained twice count once
