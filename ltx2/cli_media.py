"""The render command's media to follow: ``--audio`` (a soundtrack) and ``--video`` (a source to restyle).

Read before any model loads: a file that is not what it should be, a video without the sound asked of it, or a
length the media cannot cover is one ``error:`` line naming the flag. The media also give the defaults a user
expects: the source video's frame rate, and the length of whatever is followed.
"""

from __future__ import annotations

import argparse

from .errors import InputError
from .options import SOURCE_SOUNDS, TRACK_ENDS


def add_media_args(group, path_type) -> None:
    group.add_argument("--audio", type=path_type, metavar="FILE",
                       help="a soundtrack to follow (WAV, MP3, FLAC, M4A...; any rate, mono or stereo): every chunk's sound is "
                            "kept at the schedule's audio_strength, the video made to match, and the MP4 carries the track itself; "
                            "the length defaults to the track's")  # fmt: skip
    group.add_argument("--audio-end", choices=TRACK_ENDS, default="error",
                       help="a track shorter than the video: refuse (error, the default), or go on in silence or loop the track")
    group.add_argument("--video", type=path_type, metavar="FILE",
                       help="a source video to restyle: each chunk starts from its frames, kept at 1 - the schedule's denoise "
                            "(give denoise below 1, e.g. 0.6); renders at its frame rate, for its length by default")  # fmt: skip
    group.add_argument("--denoise", type=float, metavar="D", help="with --video: how much of each chunk is made anew, 0..1 (overrides the schedule's denoise)")
    group.add_argument("--audio-strength", type=float, metavar="S", help="with a soundtrack: how firmly the sound holds it, 0..1 (overrides the schedule's; default 1)")
    group.add_argument("--video-sound", choices=SOURCE_SOUNDS, default="auto",
                       help="the source video's sound: keep it as the soundtrack, regenerate it, or auto (keep it when there is one)")


def media_guides(args: argparse.Namespace):
    """The MediaGuides of ``--audio`` / ``--video`` (empty without them); raises InputError naming the flag."""
    from .media.soundtrack import read_soundtrack
    from .media.source_video import read_source_video
    from .pipeline.guides import MediaGuides

    if args.video is None and args.video_sound != "auto":
        raise InputError([("--video-sound", "has no effect without --video; leave it out")])
    if args.audio is not None and args.video_sound == "keep":
        raise InputError([("--video-sound", "keep and --audio both name the soundtrack: give one of them")])
    video = read_source_video(args.video) if args.video is not None else None
    track = None
    if args.audio is not None:
        track = read_soundtrack(args.audio, end=args.audio_end)
    elif video is not None and args.video_sound != "regenerate":
        track = _video_sound(args)
    if track is None and args.audio_end != "error":
        raise InputError([("--audio-end", "has no effect without a soundtrack (--audio, or --video with sound); leave it out")])
    return MediaGuides(track, video)


def _video_sound(args: argparse.Namespace):
    from .media.soundtrack import read_soundtrack

    try:
        return read_soundtrack(args.video, name="--video", end=args.audio_end, from_video=True)
    except InputError:
        if args.video_sound == "keep":
            raise
        return None  # auto: a silent video's sound is generated


def media_defaults(args: argparse.Namespace, guides) -> bool:
    """Fill what the media decide and the user left out: the source's frame rate, the length of the media."""
    from .chain.plan import as_fps

    if args.fps is None:
        args.fps = str(guides.video.fps) if guides.video is not None else "24"  # a Fraction reads 25 or 24000/1001
    if args.frames is None and args.seconds is None:
        length = guides.length(as_fps(args.fps))
        if length is None:
            raise InputError([("--frames", "give the length: --frames or --seconds (or --audio / --video to follow theirs)")])
        args.frames = length
    return True


def flagged_media_problem(args: argparse.Namespace, field: str, message: str) -> tuple[str, str]:
    """A MediaGuides problem with its field as the user set it: ``--denoise`` / ``--audio-strength``, or the
    schedule file's entry."""
    name, _, where = field.partition(" ")
    if name in ("denoise", "audio_strength"):
        flag = "--" + name.replace("_", "-")
        return (flag if getattr(args, name) is not None or not where else f"--schedule: {field}"), message
    return field, message
