"""The snapshot cache: longest-prefix lookup, LRU eviction within the byte budget."""

from __future__ import annotations

import numpy as np

from workstation.engine.state_cache import Snapshot, SnapshotCache, common_prefix_length


def snap(tokens: list[int], nbytes: int = 10) -> Snapshot:
    return Snapshot(np.asarray(tokens, dtype=np.intc), payload=None, nbytes=nbytes)


def test_common_prefix_length() -> None:
    a = np.array([1, 2, 3, 4])
    assert common_prefix_length(a, np.array([1, 2, 9])) == 2
    assert common_prefix_length(a, np.array([1, 2])) == 2
    assert common_prefix_length(a, np.array([], dtype=int)) == 0
    assert common_prefix_length(a, a.copy()) == 4


def test_best_finds_longest_shared_prefix_and_counts() -> None:
    cache = SnapshotCache(1000)
    cache.put(snap([1, 2, 3, 4, 5]))
    cache.put(snap([1, 2, 7, 8]))
    found = cache.best(np.array([1, 2, 3, 9]))
    assert found is not None and found[1] == 3 and list(found[0].tokens[:3]) == [1, 2, 3]
    assert cache.best(np.array([1, 2, 3, 9]), at_least=3) is None
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)


def test_lru_eviction_keeps_within_budget() -> None:
    cache = SnapshotCache(25)
    cache.put(snap([1], 10))
    cache.put(snap([2], 10))
    assert cache.best(np.array([1, 5])) is not None  # [1] is now the most recently used
    cache.put(snap([3], 10))
    assert cache.nbytes <= 25 and len(cache) == 2
    assert [1] in cache and [3] in cache and [2] not in cache
    assert cache.put(snap([4], 26)) is False  # larger than the whole budget: not kept
    assert cache.nbytes <= 25


def test_prefix_snapshot_is_superseded_by_longer_one() -> None:
    cache = SnapshotCache(1000)
    cache.put(snap([1, 2]))
    cache.put(snap([1, 2, 3]))
    assert len(cache) == 1 and cache.nbytes == 10
    assert cache.longest_shared(np.array([1, 2, 3, 4])) == 3
    assert cache.longest_shared(np.array([5])) == 0
