"""Linking tracks into people: the same person comes back to the same id, different people
never share one, near-ties stay apart. Descriptors here are synthetic unit vectors: each person
a random direction in 1024 dimensions, each view that direction plus noise sized to give the
cosine distances measured on real faces (docs/people.md: same person ~0.05-0.25, others ~0.5)."""

import numpy as np
import pytest

from moodlens.people import MARGIN, THRESHOLD, People

DIM = 1024


def identity(seed):
    v = np.random.default_rng(seed).normal(size=DIM)
    return v / np.linalg.norm(v)


def view(base, rng, spread=0.012):
    """A view of ``base``; spread 0.012 per dimension gives a cosine distance of about 0.07."""
    return base + rng.normal(scale=spread, size=DIM)


def distance(a, b):
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return 1 - float(a @ b)


def test_views_model_the_measured_distances():
    rng = np.random.default_rng(0)
    alice, bob = identity(1), identity(2)
    assert 0.03 < distance(view(alice, rng), view(alice, rng)) < 0.25
    assert distance(view(alice, rng), view(bob, rng)) > 0.5


def test_a_person_who_leaves_and_comes_back_gets_their_id_back():
    rng, people = np.random.default_rng(1), People()
    alice, bob = identity(1), identity(2)
    first = people.add_view(("video", 1), view(alice, rng), 0)
    other = people.add_view(("video", 2), view(bob, rng), 5000)
    again = people.add_view(("video", 3), view(alice, rng), 60 * 60 * 1000)  # an hour later
    assert (first.id, other.id, again.id) == (1, 2, 1)
    assert people.tracks_of("video") == {1: first, 2: other, 3: first}
    assert len(people) == 2


def test_tracks_in_other_recordings_share_people():
    rng, people = np.random.default_rng(2), People()
    alice, bob = identity(1), identity(2)
    people.add_view(("a.mp4", 1), view(alice, rng), 0)
    people.add_view(("a.mp4", 2), view(bob, rng), 0, visible=[("a.mp4", 1)])
    assert people.add_view(("b.mp4", 1), view(bob, rng), 0).id == 2
    assert people.add_view(("b.mp4", 2), view(alice, rng), 0, visible=[("b.mp4", 1)]).id == 1


def test_two_faces_in_one_frame_are_two_people_even_when_alike():
    rng, people = np.random.default_rng(3), People()
    twin = identity(7)
    one = people.add_view(("camera", 1), view(twin, rng), 0)
    two = people.add_view(("camera", 2), view(twin, rng), 0, visible=[("camera", 1)])
    assert one.id != two.id


def test_many_different_people_never_share_an_id():
    rng, people = np.random.default_rng(4), People()
    ids = [people.add_view(("video", k), view(identity(100 + k), rng), k * 1000).id for k in range(40)]
    assert len(set(ids)) == 40


def test_an_ambiguous_match_makes_a_new_person_rather_than_merging():
    people = People()
    a, b = identity(1), identity(2)
    people.add_view(("v", 1), a, 0)
    people.add_view(("v", 2), b, 0, visible=[("v", 1)])
    # Halfway between two known people, close enough to both to pass the threshold alone.
    between = a + b
    d = people.distances(between)
    assert d[1] < THRESHOLD and d[2] < THRESHOLD and abs(d[1] - d[2]) < MARGIN
    assert people.add_view(("v", 3), between, 1000).id == 3


def test_a_misleading_first_view_is_relinked_when_later_views_match():
    rng, people = np.random.default_rng(5), People()
    alice = identity(1)
    for t in range(3):
        people.add_view(("v", 1), view(alice, rng), t * 500)
    poor = view(alice, rng, spread=0.045)  # a blurred, turned view: too far for the threshold
    assert min(people.distances(poor).values()) > THRESHOLD
    assert people.add_view(("v", 2), poor, 10_000).id == 2  # provisionally someone new
    assert people.add_view(("v", 2), view(alice, rng), 10_500).id == 1
    assert people.person_of(("v", 2)).id == 1 and 2 not in people.people


def test_views_are_taken_a_few_times_per_track_then_never():
    people = People(view_interval_ms=400, max_views=3)
    key = ("camera", 1)
    assert people.wants(key, 0)
    people.add_view(key, identity(1), 0)
    assert not people.wants(key, 100)
    assert people.wants(key, 400)
    people.add_view(key, identity(1), 400)
    people.add_view(key, identity(1), 800)
    assert not people.wants(key, 10_000)


def test_names_are_kept_tidy_and_unknown_ids_refused():
    people = People()
    person = people.add_view(("v", 1), identity(1), 0)
    assert people.name(person.id, "  Alice \n Smith ").label == "Alice Smith"
    assert people.name(person.id, "").label == "Person 1"
    with pytest.raises(KeyError):
        people.name(99, "Bob")


def test_reference_pictures_name_a_person_from_the_start():
    rng, people = np.random.default_rng(6), People()
    alice = identity(1)
    ref = people.add_reference("Alice", [view(alice, rng), view(alice, rng)])
    seen = people.add_view(("a.mp4", 1), view(alice, rng), 0)
    assert seen is ref and seen.label == "Alice"


def test_forget_drops_everyone():
    people = People()
    people.add_view(("v", 1), identity(1), 0)
    people.forget()
    assert len(people) == 0 and people.person_of(("v", 1)) is None
    assert people.add_view(("v", 2), identity(1), 0).id == 1


def test_the_page_default_threshold_is_the_measured_one():
    from moodlens.config import Config, parse

    assert Config().match == THRESHOLD
    assert parse("?match=0.25&people=0").match == 0.25 and not parse("?people=0").people
    assert parse("?match=3").match == 0.8 and parse("?match=3").notes


def test_people_of_separate_runs_are_joined_by_descriptor():
    rng = np.random.default_rng(8)
    alice, bob, carol = identity(1), identity(2), identity(3)
    joined = People()
    # Run 1 saw Alice and Bob; run 2 saw Bob, Carol and Alice (its own ids 1, 2, 3).
    first = [joined.adopt(view(alice, rng), "Alice"), joined.adopt(view(bob, rng), exclude=())]
    second = []
    for d in (view(bob, rng), view(carol, rng), view(alice, rng)):
        second.append(joined.adopt(d, exclude={p.id for p in second}))
    assert [p.id for p in first] == [1, 2] and [p.id for p in second] == [2, 3, 1]
    assert second[2].label == "Alice"
    # Two people one run told apart stay apart even when their descriptors are alike.
    twin = identity(9)
    one = joined.adopt(view(twin, rng))
    assert joined.adopt(view(twin, rng), exclude={one.id}).id != one.id
    assert joined.adopt(None).id not in {1, 2, 3}, "no descriptor: someone new"
