"""The seam report on synthetic videos with known defects, written with PyAV (H.264 + AAC, as the chain writes them).

The pictures are made in CIE Lab (a lightness texture drifting one pixel per frame) and turned into sRGB here with
the textbook inverse conversion, so every injected defect has a known size in Lab units; the library's forward
conversion is checked on its own against published reference values.
"""

import json
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from ltx2.chain.plan import make_plan, sample_at_frame
from ltx2.chain.report import plan_report
from ltx2.errors import InputError
from ltx2.seams import SEAM_SCORE, measure_seams
from ltx2.seams.drift import vde
from ltx2.seams.picture import motion_magnitude, srgb_to_lab, ssim

ROOT = Path(__file__).resolve().parents[1]
CHUNK, TAIL = 33, 9
FRAMES = 129  # 5 chunks: boundaries at 33, 57, 81, 105
BOUNDARIES = [33, 57, 81, 105]
RATE = 24000
TONE = 0.3  # a 220 Hz sine: its largest sample step is 0.3 * 2 pi 220 / 24000 = 0.017

# ---- synthetic videos


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """[..., 3] CIE Lab (D65) -> uint8 sRGB, the textbook inverse (sRGB primaries, IEC 61966-2-1 transfer)."""
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    d = 6 / 29
    xyz = np.where(f > d, f**3, 3 * d * d * (f - 4 / 29)) * np.array([0.95047, 1.0, 1.08883])
    m = np.array([[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]])
    linear = np.clip(xyz @ m.T, 0, 1)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255).astype(np.uint8)


def texture(frames: int = FRAMES, width: int = 64, height: int = 48) -> np.ndarray:
    """[F, H, W, 3] Lab: L* 50 +- 15 in a smooth pattern drifting one pixel per frame, a* 5, b* 10 (smooth, so that
    4:2:0 chroma subsampling barely shifts the mean colour)."""
    y, x = np.mgrid[0:height, 0:width]
    t = np.arange(frames)[:, None, None]
    lightness = 50 + 15 * np.sin(2 * np.pi * (x - t) / 32) * np.cos(2 * np.pi * y / 24)
    return np.stack([lightness, np.full_like(lightness, 5.0), np.full_like(lightness, 10.0)], -1)


def tone(frames: int = FRAMES, fps: Fraction = Fraction(24)) -> np.ndarray:
    n = sample_at_frame(frames, fps, RATE)
    return TONE * np.sin(2 * np.pi * 220 * np.arange(n) / RATE)


def write(path: Path, lab: np.ndarray, audio: np.ndarray | None = None, fps: Fraction = Fraction(24)) -> Path:
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = lab.shape[2], lab.shape[1], "yuv420p"
        video.options = {"crf": "4"}  # near-lossless: the file carries the injected defect at its size
        if audio is not None:
            sound = container.add_stream("aac", rate=RATE)
            sound.layout, sound.bit_rate = "mono", 192_000
        for frame in lab:
            for packet in video.encode(av.VideoFrame.from_ndarray(lab_to_srgb(frame), format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            block = av.AudioFrame.from_ndarray(audio.astype(np.float32)[None], format="fltp", layout="mono")
            block.sample_rate, block.pts = RATE, 0
            for packet in [*sound.encode(block), *sound.encode()]:
                container.mux(packet)
    return path


def colour_jump(lab, at, delta):
    lab[at:] += delta
    return lab


def frozen(lab, at, frames):
    lab[at : at + frames] = lab[at - 1]
    return lab


def ramp(lab, at, frames, lightness):
    """Lightness rises by ``lightness`` over ``frames`` frames centred on ``at`` (a crossfade-like seam)."""
    steps = np.clip((np.arange(len(lab)) - (at - frames / 2) + 0.5) / frames, 0, 1)
    lab[..., 0] += lightness * steps[:, None, None]
    return lab


def measure(tmp_path, lab, audio=True, name="v.mp4", **kwargs):
    path = write(tmp_path / name, lab, tone() if audio is True else audio)
    return measure_seams(path, chunk_frames=CHUNK, tail_frames=TAIL, **kwargs)


def scores(report):
    return {b["frame"]: b["score"] for b in report.boundaries}


# ---- the metrics against independent references


def test_lab_matches_published_reference_values():
    """sRGB -> CIE Lab (D65) against the published values of the primaries, white and mid grey."""
    colours = np.array([[255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]], np.uint8)
    published = [(100, 0, 0), (53.2408, 80.0925, 67.2032), (87.7347, -86.1827, 83.1793), (32.2970, 79.1875, -107.8602), (53.5850, 0, 0)]
    np.testing.assert_allclose(srgb_to_lab(colours), published, atol=0.02)


def test_ssim_of_a_flat_shift_matches_the_formula():
    x = np.full((20, 20), 100.0)
    c1 = (0.01 * 255) ** 2
    assert ssim(x, x) == pytest.approx(1.0)
    assert ssim(x, x + 30) == pytest.approx((2 * 100 * 130 + c1) / (100**2 + 130**2 + c1))


@pytest.mark.parametrize("shift", [0.25, 0.5, 1.0])
def test_motion_reads_an_injected_translation(shift):
    y, x = np.mgrid[0:48, 0:64]

    def picture(d):  # the texture moved by d pixels, 0.6 d across and 0.8 d down
        return 128 + 40 * np.sin(2 * np.pi * (x - 0.6 * d) / 16) * np.cos(2 * np.pi * (y - 0.8 * d) / 12)

    assert motion_magnitude(picture(0), picture(shift)) == pytest.approx(shift, rel=0.1)


def test_vde_follows_the_lv_bench_formula():
    # N = 3, m = (2, 3, 1): linear weights 2, 1; log weights ln 2, ln 1
    assert vde([2, 3, 1], "linear") == pytest.approx(2 * 0.5 + 1 * 0.5)
    assert vde([2, 3, 1], "log") == pytest.approx(math.log(2) * 0.5)
    assert vde([4, 4, 4, 4]) == 0


# ---- known defects are found, ranked first and sized


def test_seamless_control_reports_no_seam(tmp_path):
    report = measure(tmp_path, texture())
    assert [b["frame"] for b in report.boundaries] == BOUNDARIES
    assert all(not b["seam"] for b in report.boundaries), scores(report)
    assert max(scores(report).values()) < 1.5
    assert "no seam" in report.text()


def test_colour_jump_is_the_worst_boundary_with_its_lab_size(tmp_path):
    delta = np.array([3.0, 6.0, -8.0])  # Delta E 10.44
    report = measure(tmp_path, colour_jump(texture(), 57, delta))
    worst = report.worst
    assert worst["frame"] == 57 and worst["seam"]
    assert worst["lab_shift"] == pytest.approx(np.linalg.norm(delta), rel=0.1)
    np.testing.assert_allclose(worst["lab_delta"], delta, atol=0.1 * np.linalg.norm(delta))
    assert sum(b["seam"] for b in report.boundaries) == 1


def test_frozen_frames_are_the_worst_boundary_with_their_count(tmp_path):
    report = measure(tmp_path, frozen(texture(), 81, 2))
    worst = report.worst
    assert worst["frame"] == 81 and worst["seam"] and worst["worst_metric"] == "frame_diff"
    assert worst["frame_diff_ratio"] < 1 / SEAM_SCORE  # less change than anywhere around it
    assert worst["still_frames"] == 2
    assert all(b["still_frames"] == 0 for b in report.boundaries if b["frame"] != 81)


def test_brightness_ramp_across_a_boundary_is_measured_whole(tmp_path):
    """A lightness change spread over 6 frames (as a crossfade spreads one) is still one seam of its full size,
    though no single frame-to-frame step stands out."""
    report = measure(tmp_path, ramp(texture(), 33, 6, 12.0))
    worst = report.worst
    assert worst["frame"] == 33 and worst["seam"] and worst["worst_metric"] == "lab"
    assert worst["lab_shift"] == pytest.approx(12.0, rel=0.1)
    assert worst["lab_delta"][0] == pytest.approx(12.0, rel=0.1)


def test_audio_click_at_a_boundary_is_the_worst_with_its_height(tmp_path):
    audio = tone()
    audio[sample_at_frame(105, Fraction(24), RATE)] += 0.6
    report = measure(tmp_path, texture(), audio=audio)
    worst = report.worst
    assert worst["frame"] == 105 and worst["seam"] and worst["worst_metric"] in ("audio_click", "audio_flux")
    assert worst["audio_click"] == pytest.approx(0.6, rel=0.1)
    assert all(b["audio_click"] == pytest.approx(0.017, abs=0.01) for b in report.boundaries if b["frame"] != 105)


def test_vde_grows_with_an_injected_drift_which_is_no_seam(tmp_path):
    """Lightness drifting linearly over the whole video by D: VDE (lightness) grows with D and matches the formula on
    the injected per-chunk lightness, and no boundary reads as a seam."""
    ranges = [(0, 33), (33, 57), (57, 81), (81, 105), (105, 129)]
    found = []
    for drift in (0.0, 4.0, 8.0, 16.0):
        lab = texture()
        offsets = drift * np.arange(FRAMES) / (FRAMES - 1)
        lab[..., 0] += offsets[:, None, None]
        report = measure(tmp_path, lab, audio=None, name=f"drift{drift}.mp4")
        assert all(not b["seam"] for b in report.boundaries), (drift, scores(report))
        found.append(report.vde["linear"]["lightness"])
        injected = [50 + offsets[a:b].mean() for a, b in ranges]
        assert report.vde["linear"]["lightness"] == pytest.approx(vde(injected), rel=0.1, abs=0.01)
    assert found[0] < 0.01 and found == sorted(found) and len(set(found)) == 4


# ---- the kinds of video a chain writes


def test_ntsc_rate_video_with_plan_json_finds_the_click_where_the_plan_puts_the_boundary(tmp_path):
    fps = Fraction(24000, 1001)
    plan = make_plan(fps=fps, clip_frames=CHUNK, tail_frames=TAIL, total_frames=FRAMES)
    audio = tone(fps=fps)
    audio[sample_at_frame(57, fps, RATE) - 200] += 0.6  # 8 ms early: under the last frame before the boundary
    path = write(tmp_path / "ntsc.mp4", texture(), audio, fps=fps)
    report = measure_seams(path, plan=json.dumps(plan_report(plan)[0]))
    assert report.video.fps == fps
    assert set(report.sound["samples"]) == {1001}  # 24000 Hz / (24000/1001 fps): every frame's sound is 1001 samples
    assert [b["frame"] for b in report.boundaries] == BOUNDARIES
    assert report.worst["frame"] == 57 and report.worst["audio_click"] == pytest.approx(0.6, rel=0.1)


def test_video_without_sound_skips_the_sound_metrics_and_says_so(tmp_path):
    report = measure(tmp_path, colour_jump(texture(), 81, np.array([8.0, 0, 0])), audio=None)
    assert report.worst["frame"] == 81
    assert all(b["audio_click"] is None and b["audio_rms_ratio"] is None for b in report.boundaries)
    assert report.chunks[0]["loudness_dbfs"] is None and report.vde["skipped"]["loudness_rms"] == "no audio stream"
    assert "no audio stream" in report.text()


def test_large_frames_are_measured_downscaled_and_the_report_says_so(tmp_path):
    report = measure(tmp_path, colour_jump(texture(FRAMES, 320, 192), 57, np.array([0, 0, 9.0])), audio=None)
    assert report.to_dict()["video"]["analysis_size"] == [256, 154]
    assert report.worst["frame"] == 57 and report.worst["lab_shift"] == pytest.approx(9.0, rel=0.1)
    assert any("downscaled to 256x154" in n for n in report.notes)


def test_plan_that_does_not_fit_the_video_names_the_plan(tmp_path):
    path = write(tmp_path / "v.mp4", texture(), None)
    plan = make_plan(fps=24, clip_frames=CHUNK, tail_frames=TAIL, total_frames=FRAMES + 8)
    with pytest.raises(InputError, match=r"plan: the plan covers 137 frames but the video has 129"):
        measure_seams(path, plan=plan)
    with pytest.raises(InputError, match=r"plan: chunks\[1\].keep is \[40, 57\)"):
        measure_seams(path, plan={"chunks": [{"keep": [0, 33]}, {"keep": [40, 57]}]})


def test_non_video_file_is_one_clear_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    with pytest.raises(InputError, match=r"video: .*notes.txt is not a video file PyAV can read"):
        measure_seams(text)
    r = subprocess.run([sys.executable, "-m", "ltx2", "seams", str(text)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: video: ") and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_cli_prints_one_json_object_and_draws_the_plot(tmp_path):
    path = write(tmp_path / "v.mp4", frozen(texture(), 57, 1), tone())
    plot = tmp_path / "seams.png"
    r = subprocess.run([sys.executable, "-m", "ltx2", "seams", str(path), "--chunk-frames", str(CHUNK), "--tail-frames", str(TAIL), "--json", "--plot", str(plot)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {"boundaries", "chunks", "vde"} <= set(data)
    assert [b["frame"] for b in data["boundaries"]] == BOUNDARIES and max(data["boundaries"], key=lambda b: b["score"])["frame"] == 57
    assert len(data["chunks"]) == 5 and set(data["vde"]["linear"]) == {"sharpness", "lightness", "contrast", "motion", "loudness_rms"}
    assert data["features"] == {"status": "skipped", "reason": "no feature model given"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with av.open(str(plot)) as image:
        frame = next(image.decode(video=0))
        assert frame.width >= 800 and frame.height >= 600


# ---- the optional feature metric


def test_feature_model_absent_is_skipped_and_a_missing_folder_is_an_error(tmp_path):
    report = measure(tmp_path, texture(), audio=None)
    assert report.features["status"] == "skipped" and "feature_ratio" not in report.boundaries[0]
    assert "features: skipped (no feature model given)" in report.text()
    with pytest.raises(InputError, match="feature_model: .* is not a model folder"):
        measure(tmp_path, texture(), audio=None, feature_model=tmp_path / "nowhere")


def test_feature_model_from_a_local_folder_measures_consistency(tmp_path):
    import torch
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8)
    Dinov2Model(config).save_pretrained(tmp_path / "dino")
    lab = texture()
    lab[81:, ..., 0] = 15  # a new scene: a flat dark picture
    report = measure(tmp_path, lab, audio=None, feature_model=tmp_path / "dino")
    assert report.features == {"status": "measured", "model": str(tmp_path / "dino")}
    by_frame = {b["frame"]: b for b in report.boundaries}
    assert by_frame[81]["feature_distance"] > 3 * max(by_frame[f]["feature_distance"] for f in (33, 57, 105))
    assert by_frame[81]["feature_ratio"] > SEAM_SCORE
    drift = [c["feature_drift"] for c in report.chunks]
    assert drift[0] == 0 and min(drift[3:]) > 3 * max(drift[1:3])


# ---- the node


def test_seam_report_node_takes_the_sampler_plan_and_returns_text_json_and_a_plot(pack, tmp_path):
    node = next(c for c in pack.nodes.NODES if c.GET_SCHEMA().node_id == "LTX2Chain_SeamReport")
    path = write(tmp_path / "v.mp4", colour_jump(texture(), 105, np.array([0, 8.0, 0])), tone())
    plan = make_plan(fps=24, clip_frames=CHUNK, tail_frames=TAIL, total_frames=FRAMES)
    out = node.execute(video=path, plan_json=json.dumps(plan_report(plan)[0]))
    text, data, image = out.args
    assert "worst seam: frame 105" in text and out.ui == {"text": [text]}
    assert json.loads(data)["boundaries"][3]["seam"] is True
    assert image.shape[0] == 1 and image.shape[3] == 3 and image.dtype.is_floating_point and 0 <= image.min() and image.max() <= 1
    with pytest.raises(ValueError, match="video: connect a VIDEO"):  # the pack's own InputError, a ValueError
        node.execute(video=None, video_path="")
