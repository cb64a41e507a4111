"""Ranking: soonest, nearest, best, and the Pareto guarantee as a property."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from slotlinks.discovery.search.ranking import MINUTES_PER_MILE, Candidate, best_score, dominates, rank

START = 1_800_000_000_000
MINUTE = 60_000


def order(items: list[Candidate], sort: str) -> list[int]:
    return [c.pk for c in rank(items, sort=sort, start_ms=START, key=lambda c: c)]  # type: ignore[arg-type]


def test_three_orders() -> None:
    near_late = Candidate(1, 1.0, START + 3 * 24 * 60 * MINUTE)  # 1 mile, 3 days: score 1 + 36 = 37
    far_soon = Candidate(2, 20.0, START + 60 * MINUTE)  # 20 miles, 1 hour: score 20.5
    mid = Candidate(3, 5.0, START + 24 * 60 * MINUTE)  # 5 miles, 1 day: score 17
    video = Candidate(4, None, START + 2 * 24 * 60 * MINUTE)  # no travel, 2 days: score 24
    items = [near_late, far_soon, mid, video]
    assert order(items, "nearest") == [4, 1, 3, 2]
    assert order(items, "soonest") == [2, 3, 4, 1]
    assert order(items, "best") == [3, 2, 4, 1]
    assert best_score(mid, START) == 5.0 + 24 * 60 / MINUTES_PER_MILE


def test_ties_are_deterministic() -> None:
    a, b = Candidate(7, 2.0, START), Candidate(3, 2.0, START)
    assert order([a, b], "best") == [3, 7]


candidates = st.lists(
    st.builds(
        Candidate,
        pk=st.integers(1, 10_000),
        miles=st.one_of(st.none(), st.floats(0, 500, allow_nan=False), st.sampled_from([0.0, 1.0, 2.5, 10.0])),
        first_ms=st.one_of(
            st.integers(START, START + 30 * 24 * 60 * MINUTE),
            st.sampled_from([START, START + MINUTE, START + 120 * MINUTE]),
        ),
    ),
    max_size=40,
    unique_by=lambda c: c.pk,
)


@given(items=candidates, sort=st.sampled_from(["best", "soonest", "nearest"]))
def test_never_ranked_above_a_result_both_nearer_and_sooner(items: list[Candidate], sort: str) -> None:
    ranked = rank(items, sort=sort, start_ms=START, key=lambda c: c)  # type: ignore[arg-type]
    assert sorted(c.pk for c in ranked) == sorted(c.pk for c in items)
    for i, above in enumerate(ranked):
        for below in ranked[i + 1 :]:
            assert not dominates(below, above), (sort, above, below)
