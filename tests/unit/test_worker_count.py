"""How many worker tasks per stage a run gets: from batch_size on a cluster, raised to the
machine's cores on the local backend (issue 15), never more than one per config."""

from __future__ import annotations

import pytest

from skill.backends.local import LocalBackend, cpu_slots
from skill.backends.osmo import OsmoBackend
from skill.pipeline import worker_count


@pytest.mark.parametrize(("videos", "augmentations", "slots", "expected"), [
    (1, 1, None, 1), (8, 1, None, 2), (3, 2, None, 2),   # cluster: ceil(configs / 4)
    (1, 1, 2, 1),                                        # one config: one worker, whatever the cores
    (1, 2, 2, 2), (2, 1, 8, 2), (4, 2, 2, 2),            # local: up to one per core, one per config at most
    (20, 1, 2, 5),                                       # batch_size still caps configs per worker
    (500, 1, 2, 64), (1, 1, 0, 1),
])
def test_workers_fill_the_cores_without_passing_batch_size_or_the_configs(videos, augmentations, slots, expected):
    assert worker_count("augmentation_and_al", videos, augmentations, 4, slots) == expected


def test_label_only_flows_count_clips_not_augmentations():
    assert worker_count("auto_labeling", 2, 5, 4, 8) == 2


def test_the_local_backend_offers_its_cores_and_a_cluster_none(tmp_path):
    assert LocalBackend(tmp_path).traits.worker_slots == cpu_slots() >= 1
    assert OsmoBackend.traits.worker_slots is None
