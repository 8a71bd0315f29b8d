"""``kaudio plot-sed RUN_DIR CLIP``: Fig. 3-style PNG of a weakly labelled SED run on one clip.

Seven panels (Deshmukh et al., 2APAE, Fig. 3; :mod:`kaudio.training.sed_plot`): the standardised
input log-mel, the decoder's reconstruction, the class-wise map (the head's 1×1 class convolution
called on ``model.backbone(model.frontend(x))``), the mel attention, the time attention, the
frame-level activity and the ground truth. Heads without a decoder or attention (the pooling
baselines) get panels saying so.

The clip is decoded, resampled to the spec's rate and cut to its first ``input.samples`` samples
(zero-padded), like evaluation clips. With ``--data DIR`` (a folder with labels.csv and events.csv,
e.g. from ``kaudio mix``) the clip's events are the ground truth; CLIP may then also be given as
it is named in labels.csv. ``--class NAME ...`` picks the classes shown (default: the most
probable, plus the ground-truth classes). The arguments are checked before the model is loaded.
"""
from __future__ import annotations

from pathlib import Path

COMMAND = "plot-sed"
HELP = ("plot a SED run's input, reconstruction, class map, attention, frame activity and ground truth for one "
        "clip (PNG)")


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="a run directory of a SED model (`kaudio train`, train.type sed)")
    parser.add_argument("clip", metavar="CLIP",
                        help="an audio file (or, with --data, a file as named in its labels.csv)")
    parser.add_argument("--data", metavar="DIR", help="a folder with labels.csv and events.csv: draw the clip's events")
    parser.add_argument("--out", metavar="PNG", help="output image (default: RUN_DIR/sed_<clip name>.png)")
    parser.add_argument("--class", dest="classes", metavar="NAME", nargs="+", action="extend",
                        help="classes to show (default: the two most probable in the maps, the eight most probable "
                             "and the ground-truth classes in the rows)")


def sed_head_type(spec) -> str:
    """The head type of a SED run; a :class:`~kaudio.errors.KaudioError` explains any other run."""
    from kaudio import registry
    from kaudio.errors import KaudioError

    head = spec.head["type"] if spec.head else None
    sed_heads = sorted(n for n in registry.names("head")
                       if getattr(registry.lookup("head", n), "target_kind", None) == "sed")
    if head not in sed_heads:
        what = f"head {head!r}" if head else "no head"
        raise KaudioError(f"plot-sed needs a SED run (heads: {', '.join(sed_heads)}); this run has {what}")
    return head


def find_clip(clip: str, data: Path | None) -> Path:
    """The audio file: CLIP itself, else (with --data) DIR/CLIP."""
    from kaudio.errors import KaudioError

    path = Path(clip).expanduser()
    if path.is_file():
        return path
    if data is not None and (data / clip).is_file():
        return data / clip
    if path.is_dir():
        raise KaudioError(f"{path}: is a directory, not an audio file")
    raise KaudioError(f"{clip}: no such audio file" + (f" (nor {data / clip})" if data is not None else ""))


def clip_events(data: Path, clip: Path, spec, classes) -> tuple[list | None, str | None]:
    """``(events, None)`` of ``clip`` in ``data``'s events.csv, or ``(None, why not)``."""
    from kaudio.data.events import load_events
    from kaudio.errors import KaudioError

    if not data.is_dir():
        raise KaudioError(f"--data {data}: no such folder")
    if not (data / "events.csv").is_file():
        return None, f"no ground truth: {data} has no events.csv"
    table = load_events(data, classes=list(classes), durations=spec.input["duration"])
    key = None
    try:
        key = clip.resolve().relative_to(data.resolve()).as_posix()
    except ValueError:  # not under DIR: a unique file of the same name
        same = [f for f in table.files if Path(f).name == clip.name]
        key = same[0] if len(same) == 1 else None
    if key not in table.events:
        return None, f"no ground truth: {clip.name} is not in {data / 'labels.csv'}"
    return [tuple(event) for event in table.events[key]], None


def run(args) -> int:
    import numpy as np

    from kaudio.cli.evaluate import load_run
    from kaudio.data import load_audio
    from kaudio.data.pipeline import fit_length
    from kaudio.errors import KaudioError
    from kaudio.spec.schema import did_you_mean
    from kaudio.training.sed_plot import plot_sed, sed_outputs

    run_dir = Path(args.run_dir)
    spec, _ = load_run(run_dir, need_model=False)
    head_type = sed_head_type(spec)
    classes = spec.head.get("classes") or [f"class{k}" for k in range(spec.head["num_classes"])]
    for name in args.classes or ():
        if name not in classes:
            listing = ", ".join(classes[:12]) + (", …" if len(classes) > 12 else "")
            raise KaudioError(f"--class {name!r}: not a class of this run{did_you_mean(name, classes)} "
                              f"({len(classes)} classes: {listing})")
    data = Path(args.data).expanduser() if args.data else None
    clip_path = find_clip(args.clip, data)
    out = Path(args.out) if args.out else run_dir / f"sed_{clip_path.stem}.png"
    if out.suffix.lower() != ".png":
        raise KaudioError(f"--out must end in .png, got {str(out)!r}")
    if not out.parent.is_dir():
        raise KaudioError(f"--out directory {str(out.parent)!r} does not exist")
    samples, rate = spec.input["samples"], spec.input["sample_rate"]
    audio = fit_length(load_audio(clip_path, rate), samples)  # decoding errors name the file
    events, no_events = (clip_events(data, clip_path, spec, classes) if data is not None
                         else (None, "no ground truth: give --data DIR (a folder with events.csv)"))

    spec, model = load_run(run_dir)
    channels = spec.input.get("channels", 1)
    values = sed_outputs(model, np.repeat(audio.reshape(samples, 1), channels, axis=1))  # mono to every channel
    hop = (spec.frontend or {}).get("hop_length")
    plot_sed(out, values["features"], values["class_map"], values["frames"], values["clip"], classes,
             reconstruction=values.get("reconstruction"), mel_attention=values.get("mel_attention"),
             time_attention=values.get("time_attention"), events=events, no_events=no_events,
             classes=args.classes, frame_hop_s=hop / rate if hop else None, head_type=head_type,
             title=f"{clip_path.name} — {spec.name} ({head_type})")
    top = sorted(zip(classes, values["clip"]), key=lambda item: -item[1])[:3]
    print("clip: " + ", ".join(f"{name} {p:.2f}" for name, p in top))
    if events is not None:
        print("events: " + (", ".join(f"{label} {onset:.2f}–{offset:.2f} s" for onset, offset, label in events)
                            or "none"))
    print(f"kaudio plot-sed: wrote {out}")
    return 0
