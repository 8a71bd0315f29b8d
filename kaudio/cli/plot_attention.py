"""``kaudio plot-attention RUN_DIR AUDIO``: Fig. 4-style PNG of a ResAtt run on one clip.

The clip is decoded, resampled to the spec's rate and cut to its first ``input.samples`` samples
(zero-padded), like evaluation clips. The PNG shows the attention map W (fine × coarse) with the
clip's fine and coarse probabilities. A model saved without the attention output is rebuilt with
``head.output_attention: true`` and given the same weights (the output adds none).
"""
from __future__ import annotations

from pathlib import Path

COMMAND = "plot-attention"
HELP = "plot the ResAtt attention map with fine/coarse probabilities for one audio file (PNG)"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of a resatt model (`kaudio train`)")
    parser.add_argument("audio", metavar="AUDIO", help="an audio file")
    parser.add_argument("--out", metavar="PNG", help="output image (default: RUN_DIR/attention_<audio name>.png)")


def attention_model(spec, model):
    """``model`` if it outputs ``"attention"``, else the same network rebuilt with the output on."""
    from kaudio.errors import KaudioError
    from kaudio.models import KaudioModel
    from kaudio.spec import load_spec

    if not spec.head or spec.head["type"] != "resatt":
        kind = spec.head["type"] if spec.head else "no head"
        raise KaudioError(f"plot-attention needs a resatt head (the attention map W of Eq. 1); this run has {kind!r}")
    if isinstance(model.output, dict) and "attention" in model.output:
        return model
    rebuilt = KaudioModel(load_spec(spec, {"head.output_attention": True}))
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def run(args) -> int:
    from kaudio.cli.evaluate import load_run
    from kaudio.data import load_audio
    from kaudio.data.pipeline import fit_length
    from kaudio.errors import KaudioError
    from kaudio.hierarchy import Hierarchy
    from kaudio.training.attention_plot import attention_outputs, plot_attention

    run_dir, audio_path = Path(args.run_dir), Path(args.audio)
    spec, _ = load_run(run_dir, need_model=False)
    if not spec.head or spec.head["type"] != "resatt":
        attention_model(spec, None)  # raises the explanation
    if not audio_path.is_file():
        raise KaudioError(f"{audio_path}: no such audio file")
    out = Path(args.out) if args.out else run_dir / f"attention_{audio_path.stem}.png"
    if out.suffix.lower() != ".png":
        raise KaudioError(f"--out must end in .png, got {str(out)!r}")
    if not out.parent.is_dir():
        raise KaudioError(f"--out directory {str(out.parent)!r} does not exist")
    spec, model = load_run(run_dir)
    model = attention_model(spec, model)
    samples = spec.input["samples"]
    clip = fit_length(load_audio(audio_path, spec.input["sample_rate"]), samples)
    values = attention_outputs(model, clip.reshape(samples, 1))
    hierarchy = Hierarchy.from_mapping(spec.head["hierarchy"])
    plot_attention(values["attention"], values["fine"], values["coarse"], hierarchy.fine_names,
                   hierarchy.coarse_names, out, title=f"{audio_path.name} — {spec.name}")
    top = sorted(zip(hierarchy.coarse_names, values["coarse"]), key=lambda item: -item[1])[:3]
    print("coarse: " + ", ".join(f"{name} {p:.2f}" for name, p in top))
    print(f"kaudio plot-attention: wrote {out}")
    return 0
