import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltx2.chain.plan import PlanError, as_fps, latent_frames, make_plan, sample_at_frame

FPS = st.sampled_from([24, 25, 30, 60, 12, "24000/1001", "30000/1001", 23.976, 8])


@st.composite
def chains(draw):
    clip = 8 * draw(st.integers(1, 40)) + 1
    tail = 8 * draw(st.integers(0, (clip - 1) // 8 - 1)) + 1
    total = draw(st.integers(1, 4000))
    return dict(total_frames=total, fps=draw(FPS), clip_frames=clip, tail_frames=tail, max_chunks=10_000, crossfade=draw(st.booleans()))


@settings(max_examples=400, deadline=None)
@given(chains())
def test_plan_invariants(args):
    plan = make_plan(**args)
    total, clip, tail = args["total_frames"], args["clip_frames"], args["tail_frames"]
    chunks = plan.chunks
    # every chunk renders 8k+1 frames, at most a clip, and the tails sit on the latent grid
    for c in chunks:
        assert (c.frames - 1) % 8 == 0 and c.frames <= clip
        assert c.frames > tail or len(chunks) == 1
        assert c.tail_frames in (0, tail) and (c.tail_frames == 0 or (c.tail_frames - 1) % 8 == 0)
        assert c.keep[0] >= c.start and c.keep[1] <= c.end and c.keep[0] < c.keep[1]
    # keeps tile [0, total) exactly, in order: no gap, no duplicate, the delivered length is the request
    assert chunks[0].keep[0] == 0 and chunks[-1].keep[1] == total
    for a, b in zip(chunks, chunks[1:]):
        assert a.keep[1] == b.keep[0]
        assert b.start == a.end - a.tail_frames and a.tail_frames == tail and a.frames == clip
        if args["crossfade"]:  # the receiver delivers the overlap; the giver stops where its tail begins
            assert b.keep[0] == b.start and a.keep[1] == a.end - tail
        else:  # the continuation drops exactly the frames of the tail it received
            assert b.keep[0] - b.start == tail and a.keep[1] == a.end
    assert sum(c.keep[1] - c.keep[0] for c in chunks) == total
    # the last chunk hands nothing on and is the shortest valid length that reaches the total
    last = chunks[-1]
    assert last.tail_frames == 0 and last.end >= total > last.end - 8
    # as few chunks as possible: the one before the last did not already reach the total
    if len(chunks) > 1:
        assert chunks[-2].end < total
    assert len(chunks) == (1 if total <= clip else 1 + math.ceil((total - clip) / (clip - tail)))


def test_issue_example_shape():
    plan = make_plan(total_frames=481, fps=24, clip_frames=121, tail_frames=25)
    data = plan.to_dict()
    assert data["fps"] == 24 and data["total_frames"] == 481
    assert data["chunks"][0] == {"index": 0, "frames": 121, "start": 0, "keep": [0, 121], "tail_frames": 25, "latent_frames": 16}
    # written out by hand: stride 96, the last chunk needs 481 - 384 = 97 frames (already 8k+1)
    assert [(c["start"], c["frames"], c["keep"]) for c in data["chunks"]] == [
        (0, 121, [0, 121]),
        (96, 121, [121, 217]),
        (192, 121, [217, 313]),
        (288, 121, [313, 409]),
        (384, 97, [409, 481]),
    ]


def test_last_chunk_is_cut_to_the_exact_total():
    plan = make_plan(total_frames=480, fps=24, clip_frames=121, tail_frames=25)
    last = plan.chunks[-1]
    assert (last.start, last.frames, last.keep, last.end_trim) == (384, 97, (409, 480), 1)


def test_short_video_is_one_short_chunk():
    plan = make_plan(total_frames=30, fps=24, clip_frames=121, tail_frames=25)
    assert len(plan.chunks) == 1
    assert (plan.chunks[0].frames, plan.chunks[0].keep) == (33, (0, 30))


def test_seconds_round_to_the_nearest_frame():
    assert make_plan(seconds=20, fps=24, clip_frames=121, tail_frames=25).total_frames == 480
    assert make_plan(seconds=10, fps="30000/1001", clip_frames=121, tail_frames=25).total_frames == 300  # 299.7
    assert as_fps(23.976023976023978) == Fraction(24000, 1001)


def test_audio_cut_points_tile_by_time():
    fps = Fraction(24000, 1001)
    # 16 kHz at 23.976 fps is 667.33 samples per frame: boundaries land on the nearest sample of the frame's time
    assert [sample_at_frame(f, fps, 16000) for f in (0, 1, 2, 3)] == [0, 667, 1335, 2002]
    assert sample_at_frame(24, Fraction(24), 48000) == 48000


def test_latent_counts():
    assert [latent_frames(f) for f in (1, 9, 17, 121)] == [1, 2, 3, 16]


@pytest.mark.parametrize(
    "kwargs, field, fragment",
    [
        (dict(total_frames=481, clip_frames=121, tail_frames=121), "tail_frames", "shorter than clip_frames"),
        (dict(total_frames=481, clip_frames=121, tail_frames=200), "tail_frames", "shorter than clip_frames"),
        (dict(total_frames=481, clip_frames=121, tail_frames=24), "tail_frames", "17 or 25"),
        (dict(total_frames=481, clip_frames=120, tail_frames=25), "clip_frames", "113 or 121"),
        (dict(total_frames=481, clip_frames=1, tail_frames=1), "clip_frames", "out of range"),
        (dict(total_frames=-5, clip_frames=121, tail_frames=25), "total_frames", "out of range"),
        (dict(total_frames=0, clip_frames=121, tail_frames=25), "total_frames", "out of range"),
        (dict(total_frames=10**9, clip_frames=121, tail_frames=25), "total_frames", "out of range"),
        (dict(total_frames=481, clip_frames=121, tail_frames=0), "tail_frames", "at least 1 frame"),
        (dict(total_frames=481, clip_frames=121, tail_frames=-8), "tail_frames", "at least 1 frame"),
        (dict(total_frames=100_000, clip_frames=121, tail_frames=25), "max_chunks", "raise max_chunks"),
        (dict(total_frames=481.5, clip_frames=121, tail_frames=25), "total_frames", "whole number"),
        (dict(seconds=-1.0, clip_frames=121, tail_frames=25), "seconds", "positive duration"),
        (dict(seconds=float("nan"), clip_frames=121, tail_frames=25), "seconds", "positive duration"),
        (dict(clip_frames=121, tail_frames=25), "total_frames", "exactly one"),
    ],
)
def test_bad_input_names_the_field(kwargs, field, fragment):
    with pytest.raises(PlanError) as e:
        make_plan(fps=kwargs.pop("fps", 24), **kwargs)
    assert e.value.problems[0][0] == field
    assert fragment in e.value.problems[0][1]


@pytest.mark.parametrize("fps", [0, -24, 1000, "abc", "1/0", 0.0001, "0.5", float("inf"), float("nan"), "1e99999999", "24e0"])
def test_bad_fps(fps):
    with pytest.raises(PlanError) as e:
        make_plan(total_frames=100, fps=fps, clip_frames=121, tail_frames=25)
    assert e.value.problems[0][0] == "fps"


def test_table_summary():
    assert make_plan(total_frames=100, fps=24, clip_frames=121, tail_frames=25).table().startswith("1 chunk of 105 frames (no handoff); 100 frames")
    assert make_plan(total_frames=481, fps=24, clip_frames=121, tail_frames=25).table().startswith("5 chunks of up to 121 frames, tail 25 (4 latent)")


def test_crossfade_moves_the_overlap_to_the_receiver():
    plan = make_plan(total_frames=481, fps=24, clip_frames=121, tail_frames=25, crossfade=True)
    assert [c.keep for c in plan.chunks] == [(0, 96), (96, 192), (192, 288), (288, 384), (384, 481)]
    assert plan.to_dict()["crossfade"] is True and "crossfade" not in make_plan(total_frames=481, fps=24, clip_frames=121, tail_frames=25).to_dict()


@settings(max_examples=300, deadline=1000)
@given(st.text(max_size=30) | st.floats() | st.integers())
def test_any_fps_is_a_rate_or_a_plan_error_quickly(fps):
    try:
        rate = as_fps(fps)
    except PlanError as e:
        assert e.problems[0][0] == "fps"
    else:
        assert 1 <= rate <= 240
