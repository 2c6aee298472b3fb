"""Chains that follow media: a soundtrack (delivered sample for sample, every chunk's audio tokens the encoded track)
and a source video (restyled chunk by chunk, frame-exact at the source's rate), on the demo model."""

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from ltx2.chain.plan import make_plan
from ltx2.chain.runner import ChainRunner
from ltx2.chain.schedule import ChunkSchedule
from ltx2.cli import main
from ltx2.errors import InputError
from ltx2.host import StandaloneHost
from ltx2.media.mp4 import Mp4Writer
from ltx2.media.soundtrack import Soundtrack, read_soundtrack
from ltx2.media.source_video import SourceVideo, read_source_video
from ltx2.model.vae_tiling import encode_frames
from ltx2.pipeline.guides import MediaGuides
from ltx2.pipeline.images import fit_image
from ltx2.pipeline.models import demo_models
from ltx2.pipeline.renderer import LTXChunkRenderer
from ltx2.pipeline.run import render_chain
from ltx2.pipeline.settings import RenderSettings

SETTINGS = RenderSettings(width=64, height=64, sigmas=(1.0, 0.6, 0.0), guidance="off", tile=None)
PLAN = {"fps": 24, "clip_frames": 25, "tail_frames": 9}  # chunks start at frames 0, 16, 32, ...
AAC_FRAME = 1024


@pytest.fixture(scope="module")
def models():
    return demo_models(seed=0)


def first_sample(frame: int, fps: Fraction, rate: int) -> int:
    """Oracle: the sample where frame ``frame`` begins, by exact rational time (halves up)."""
    return (2 * frame * rate * fps.denominator + fps.numerator) // (2 * fps.numerator)


def sine(rate: int, seconds: float, channels: int) -> torch.Tensor:
    t = torch.arange(round(rate * seconds), dtype=torch.float64) / rate
    return torch.stack([0.3 * torch.sin(2 * math.pi * (330 + 110 * c) * t) for c in range(channels)]).float()


def write_sound(path: Path, codec: str, rate: int, channels: int, seconds: float) -> None:
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(sine(rate, seconds, channels).numpy(), format="fltp", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


def write_video(path: Path, fps: Fraction, frames: int, sound: bool = True) -> torch.Tensor:
    """A source MP4 (keyframes every 10 frames); returns its frames as written."""
    pictures = torch.rand(frames, 72, 96, 3, generator=torch.Generator().manual_seed(1))
    writer = Mp4Writer(path)
    writer.open(fps, frames)
    for start in range(0, frames, 10):
        end = min(start + 10, frames)
        audio = sine(48000, 10, 2)[:, first_sample(start, fps, 48000) : first_sample(end, fps, 48000)] if sound else None
        writer.write(writer.prepare(pictures[start:end], audio), 48000 if sound else None)
    writer.commit()
    return pictures


def assert_aac_close(got: torch.Tensor, want: torch.Tensor) -> None:
    """The same sound within AAC's loss (a 0.3 sine: error RMS under 0.01), aligned (a shifted sine is far off)."""
    n = min(got.shape[1], want.shape[1]) - AAC_FRAME
    error = (got[:, AAC_FRAME:n] - want[:, AAC_FRAME:n]).pow(2).mean().sqrt()
    assert error < 0.01, float(error)


def decoded(path: Path) -> tuple[int, Fraction, torch.Tensor | None, int | None]:
    with av.open(str(path)) as c:
        rate = c.streams.video[0].average_rate
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return frames, rate, None, None
        sound = torch.from_numpy(np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1))
        return frames, rate, sound, c.streams.audio[0].sample_rate


# --- soundtrack ------------------------------------------------------------------------------------------


def test_the_delivered_sound_is_the_track(models, tmp_path):
    track = Soundtrack(sine(44100, 2.0, 2), 44100)
    plan = make_plan(total_frames=41, **PLAN)
    out = tmp_path / "song.mp4"
    path, media = render_chain(models, SETTINGS, plan, ChunkSchedule(prompt="a singer"), out_path=out, return_media=True, guides=MediaGuides(track)).output
    end = first_sample(41, plan.fps, 44100)
    assert media.sample_rate == 44100 and torch.equal(media.audio, track.waveform[:, :end])  # in memory: exactly
    frames, rate, sound, sample_rate = decoded(path)
    assert (frames, rate, sample_rate, sound.shape[0]) == (41, 24, 44100, 2)
    assert abs(sound.shape[1] - end) <= AAC_FRAME
    assert_aac_close(sound, track.waveform[:, :end])


def test_each_chunk_holds_the_encoded_track_over_its_span(models):
    track = Soundtrack(sine(48000, 2.0, 1), 48000)
    plan = make_plan(total_frames=41, **PLAN)
    renderer = LTXChunkRenderer(models, SETTINGS, guides=MediaGuides(track))
    latents = ChainRunner(renderer, StandaloneHost(models.device)).run(plan, ChunkSchedule(), None).output
    for chunk, got in zip(plan.chunks, latents):
        start = first_sample(chunk.start, plan.fps, 48000)
        # two seconds from the chunk's first sample, silent past the track's end
        window = torch.nn.functional.pad(track.waveform[:, start:], (0, 96000 - (track.samples - start)))
        expected = models.audio.encode_audio(window, 48000)
        steps = got["audio"].shape[2]
        assert steps >= math.ceil(chunk.frames / 24 * 25)
        # the last latent reaches past the chunk's sound, where the mel window sees the encoder's end of input
        torch.testing.assert_close(got["audio"][0, :, : steps - 1], expected[:, : steps - 1], rtol=0, atol=1e-6)


def test_audio_strength_below_one_lets_the_sound_move(models):
    track = Soundtrack(sine(48000, 2.0, 1), 48000)
    plan = make_plan(total_frames=25, **PLAN)
    renderer = LTXChunkRenderer(models, SETTINGS, guides=MediaGuides(track))
    (held,) = ChainRunner(renderer, StandaloneHost(models.device)).run(plan, ChunkSchedule(), None).output
    (loose,) = ChainRunner(renderer, StandaloneHost(models.device)).run(plan, ChunkSchedule(audio_strength=0.5), None).output
    assert not torch.allclose(held["audio"], loose["audio"], atol=1e-3)


def test_a_short_track_is_refused_silenced_or_looped(models, tmp_path):
    plan = make_plan(total_frames=41, **PLAN)  # 1.71 s
    waveform = sine(16000, 1.0, 2)
    with pytest.raises(InputError) as e:
        render_chain(models, SETTINGS, plan, ChunkSchedule(), out_path=tmp_path / "x.mp4", run_dir=tmp_path / "run", guides=MediaGuides(Soundtrack(waveform, 16000, name="soundtrack")))
    assert e.value.problems[0][0] == "soundtrack" and "silence or loop" in e.value.problems[0][1]
    assert not list(tmp_path.iterdir())  # refused before anything was written
    end = first_sample(41, plan.fps, 16000)
    for how, rest in (("silence", torch.zeros(2, end - 16000)), ("loop", waveform[:, : end - 16000])):
        media = render_chain(models, SETTINGS, plan, ChunkSchedule(), return_media=True, guides=MediaGuides(Soundtrack(waveform, 16000, end=how))).output
        assert torch.equal(media.audio, torch.cat([waveform, rest], dim=1)), how


@pytest.mark.parametrize("name, codec, rate, channels", [("song.mp3", "libmp3lame", 44100, 2), ("song.wav", "pcm_s16le", 44100, 2), ("voice.wav", "pcm_s16le", 48000, 1)])
def test_sound_files_drive_the_cli(tmp_path, name, codec, rate, channels, capsys):
    sound = tmp_path / name
    write_sound(sound, codec, rate, channels, 1.5)
    track = read_soundtrack(sound)
    assert (track.sample_rate, track.waveform.shape[0]) == (rate, channels)
    assert abs(track.samples - 1.5 * rate) <= 2 * 1152  # an MP3 may carry an encoder frame more
    out = tmp_path / "clip.mp4"
    status = main(["render", "--demo", "--audio", str(sound), "--clip-frames", "25", "--tail-frames", "9", "--width", "64", "--height", "64", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    frames, fps, got, got_rate = decoded(out)
    assert (frames, fps, got_rate, got.shape[0]) == (track.frames_covered(Fraction(24)), 24, rate, channels)  # as long as the track


def test_a_changed_track_renders_again(models, tmp_path):
    plan = make_plan(total_frames=41, **PLAN)

    def run(track):
        return render_chain(models, SETTINGS, plan, ChunkSchedule(), run_dir=tmp_path / "run", guides=MediaGuides(track))

    first = Soundtrack(sine(16000, 2.0, 1), 16000)
    assert run(first).rendered == [0, 1]
    assert run(Soundtrack(first.waveform.clone(), 16000)).rendered == []  # the same sound: resumed
    assert run(Soundtrack(first.waveform * 0.5, 16000)).rendered == [0, 1]


# --- source video ----------------------------------------------------------------------------------------


def test_a_source_file_is_read_by_range(tmp_path):
    path = tmp_path / "source.mp4"
    write_video(path, Fraction(25), 47)
    video = read_source_video(path)
    assert (video.frame_count, video.fps, video.width, video.height) == (47, 25, 96, 72)
    with av.open(str(path)) as c:
        every = torch.from_numpy(np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]))
    for start, end in ((0, 25), (16, 41), (23, 47), (32, 57)):  # seeks land mid-GOP; the last range runs past the end
        got = video.frames(start, end)
        assert torch.equal(got[: 47 - start], every[start:end])
        assert all(torch.equal(f, every[-1]) for f in got[47 - start :])  # past the end: the last frame repeats


def test_denoise_zero_keeps_the_encoded_source(models):
    source = torch.rand(41, 80, 100, 3, generator=torch.Generator().manual_seed(2))
    plan = make_plan(total_frames=41, **PLAN)
    renderer = LTXChunkRenderer(models, SETTINGS, guides=MediaGuides(video=SourceVideo.from_frames(source)))
    latents = ChainRunner(renderer, StandaloneHost(models.device)).run(plan, ChunkSchedule(denoise=0.0), None).output
    tail_latents = (plan.tail_frames - 1) // 8 + 1
    for chunk, got in zip(plan.chunks, latents):
        expected = encode_frames(models.video_encoder, fit_image(source[chunk.start : chunk.end], 64, 64), None, device=models.device).float()
        kept = slice(tail_latents if chunk.index else 0, None)  # a continuation's first slots hold the tail
        torch.testing.assert_close(got["video"][:, :, kept], expected[:, :, kept], rtol=0, atol=1e-5)


@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(25)])
def test_a_restyled_video_is_frame_exact_at_the_source_rate(tmp_path, fps, capsys):
    source = tmp_path / "source.mp4"
    write_video(source, fps, 47)
    out = tmp_path / "restyled.mp4"
    status = main(["render", "--demo", "--video", str(source), "--denoise", "0.5", "--clip-frames", "25", "--tail-frames", "9", "--width", "64", "--height", "64", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    frames, rate, sound, sample_rate = decoded(out)
    kept = read_soundtrack(source, from_video=True)
    assert (frames, rate, sample_rate) == (47, fps, 48000)
    assert abs(sound.shape[1] - first_sample(47, fps, 48000)) <= 2 * AAC_FRAME
    assert_aac_close(sound, kept.waveform)  # the source's own sound, through AAC once more


def run_cli(capsys, *args) -> tuple[int, str]:
    status = main(["render", "--demo", "--clip-frames", "25", "--tail-frames", "9", "--width", "64", "--height", "64", *args])
    return status, capsys.readouterr().err


def test_bad_media_inputs_are_one_line_each(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a sound\n")
    silent = tmp_path / "silent.mp4"
    write_video(silent, Fraction(25), 30, sound=False)
    source = tmp_path / "source.mp4"
    write_video(source, Fraction(25), 30)
    out = tmp_path / "out.mp4"
    cases = [
        (["--audio", str(text)], "--audio", "not a sound file"),
        (["--audio", str(tmp_path / "missing.wav")], "--audio", "no such file"),
        (["--video", str(text), "--denoise", "0.5"], "--video", "not a video file"),
        (["--video", str(silent), "--video-sound", "keep", "--denoise", "0.5"], "--video", "has no sound"),
        (["--video", str(source), "--denoise", "0.5", "--frames", "40"], "--video", "has 30 frames, the chain asks for 40"),
        (["--video", str(source), "--denoise", "0.5", "--fps", "24"], "--video", "plays at 25 fps and the chain at 24"),
        (["--video", str(source)], "--denoise", "is 1 in every chunk"),
        (["--denoise", "0.5", "--frames", "9"], "--denoise", "restyle a source video"),
        (["--audio-strength", "0.5", "--frames", "9"], "--audio-strength", "hold a soundtrack"),
        (["--video-sound", "regenerate", "--frames", "9"], "--video-sound", "without --video"),
        (["--audio-end", "loop", "--frames", "9"], "--audio-end", "without a soundtrack"),
        ([], "--frames", "give the length"),
    ]
    for args, flag, words in cases:
        status, err = run_cli(capsys, *args, "--out", str(out))
        assert status == 2 and err.startswith(f"error: {flag}: ") and words in err and "Traceback" not in err, (args, err)
        assert not out.exists() and not out.with_name(out.name + ".ltx2run").exists()


def test_a_silent_source_regenerates_its_sound(tmp_path, capsys):
    silent = tmp_path / "silent.mp4"
    write_video(silent, Fraction(25), 30, sound=False)
    out = tmp_path / "out.mp4"
    status, err = run_cli(capsys, "--video", str(silent), "--denoise", "0.7", "--out", str(out))
    assert status == 0, err
    frames, rate, sound, sample_rate = decoded(out)
    assert (frames, rate) == (30, 25) and sound is not None and sample_rate == 24000  # the demo vocoder's sound


def test_node_media_inputs_are_checked():
    with pytest.raises(InputError, match="source_video: expected frames"):
        SourceVideo.from_frames(torch.zeros(10, 64, 64))
    with pytest.raises(InputError, match="soundtrack: expected mono or stereo"):
        Soundtrack(torch.zeros(6, 100), 48000, name="soundtrack")
    with pytest.raises(InputError, match="NaN"):
        Soundtrack(torch.full((1, 100), float("nan")), 48000)
