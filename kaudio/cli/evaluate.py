"""``kaudio evaluate RUN_DIR --data DIR``: Table-1 metrics of a trained run.

Thresholds are tuned per tag on the validation split (F1-optimal), then the chosen split (test by
default) is scored: macro ROC-AUC, PR-AUC and F1 at the fine and coarse levels. The split is the
one training used: RUN_DIR/split.json (or the one above a --seeds / λ-grid sub-run), else the
run's spec.yaml (val_fraction, seed). Writes RUN_DIR/thresholds.json
and RUN_DIR/metrics.md / metrics.csv and prints the table.
"""
from __future__ import annotations

from pathlib import Path

COMMAND = "evaluate"
HELP = "evaluate a trained run directory on a labels.csv folder (ROC-AUC, PR-AUC, F1 per level)"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `kaudio train`")
    parser.add_argument("--data", required=True, metavar="DIR", help="folder with audio files and labels.csv, or an OpenMIC-2018 release")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="split to score (default: test)")


def load_run(run_dir: Path, need_model: bool = True):
    """``(spec, model)`` of a run directory, with clear errors when files are missing."""
    from kaudio.errors import KaudioError
    from kaudio.spec import load_spec

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise KaudioError(f"{run_dir}: no such run directory")
    for name in ("spec.yaml", "best.keras") if need_model else ("spec.yaml",):
        if not (run_dir / name).is_file():
            raise KaudioError(f"{run_dir} has no {name}; give a run directory written by `kaudio train` "
                              "(an unfinished run has no best.keras until its first epoch ends)")
    # The pretrained file that initialised training is not needed to evaluate (and may be gone).
    spec = load_spec(run_dir / "spec.yaml", {"train.init_weights": None})
    if not need_model:
        return spec, None
    import keras

    import kaudio  # noqa: F401  (registers the custom layers)

    try:
        model = keras.models.load_model(run_dir / "best.keras")
    except Exception as err:  # noqa: BLE001  (a corrupt or foreign file)
        raise KaudioError(f"cannot load {run_dir / 'best.keras'}: {err}") from None
    return spec, model


def run(args) -> int:
    import tensorflow as tf

    from kaudio.training.data import SpecData, find_split_file, reraise_data_errors
    from kaudio.training.evaluate import evaluate_model

    run_dir = Path(args.run_dir)
    spec, model = load_run(run_dir)
    data = SpecData.load(spec, args.data, split_file=find_split_file(run_dir))
    try:
        result = evaluate_model(model, data.dataset("val"), data.dataset(args.split), run_dir)
    except tf.errors.OpError as err:
        reraise_data_errors(err)
    print(f"kaudio evaluate: {spec.name} on the {args.split} split ({len(data.splits[args.split])} clips), "
          f"thresholds tuned on {len(data.splits['val'])} validation clips")
    print(result["markdown"], end="")
    print(f"kaudio evaluate: wrote {run_dir / 'metrics.md'}, {run_dir / 'metrics.csv'}, {run_dir / 'thresholds.json'}")
    return 0
