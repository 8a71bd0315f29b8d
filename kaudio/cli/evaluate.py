"""``kaudio evaluate RUN_DIR --data DIR``: the metrics of a trained run, again or on another folder.

* ``--data DIR`` (the folder the run was trained on): thresholds are tuned per tag on its
  validation split (F1-optimal) and the chosen split (test by default) is scored. The split is
  the one training used: RUN_DIR/split.json (or the one above a --seeds / λ-grid sub-run), else
  the run's spec.yaml (val_fraction, seed). Writes RUN_DIR/thresholds.json and
  RUN_DIR/metrics.md / metrics.csv.
* ``--test-data OTHER`` (another labelled folder, e.g. an out-of-domain test set): every clip of
  OTHER is scored with the run's validation-tuned thresholds (RUN_DIR/thresholds.json, written by
  ``kaudio train``; or tuned on ``--data``'s validation split when given). Writes
  RUN_DIR/metrics_<OTHER's name>.md / .csv; thresholds.json is left as it is.

Metrics follow the head: ROC-AUC, PR-AUC (mAP) and F1 per level for taggers (fine and coarse for a
hierarchy), accuracy and macro F1 for a single-label classifier. The arguments and the data are
checked before the model is loaded.
"""
from __future__ import annotations

from pathlib import Path

COMMAND = "evaluate"
HELP = "evaluate a trained run directory on its labels.csv folder or another one (--test-data)"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `kaudio train`")
    parser.add_argument("--data", metavar="DIR", help="the folder the run was trained on (labels.csv, or an OpenMIC-2018 release)")
    parser.add_argument("--test-data", metavar="OTHER", help="another labelled folder: score all of its clips with the "
                                                             "run's validation-tuned thresholds")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="split of --data to score (default: test)")


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
    # The pretrained file that initialised training and a teacher are not needed to evaluate (and may be gone).
    spec = load_spec(run_dir / "spec.yaml", _drop_machine_paths(run_dir / "spec.yaml"))
    if not need_model:
        return spec, None
    from kaudio.training.fit import load_best_model

    return spec, load_best_model(run_dir)


def _drop_machine_paths(spec_file: Path) -> dict:
    import yaml

    from kaudio.models.kaudio_model import MACHINE_PATH_KEYS

    data = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
    overrides = {f"train.{key}": None for key in MACHINE_PATH_KEYS if (data.get("train") or {}).get(key)}
    if data.get("teacher"):
        overrides["teacher"] = None
    return overrides


def run(args) -> int:
    import tensorflow as tf

    from kaudio.errors import KaudioError
    from kaudio.training.data import find_split_file, reraise_data_errors
    from kaudio.training.evaluate import label_names, load_thresholds
    from kaudio.training.supervised import target_kind_of
    from kaudio.training.trainer import trainer_for

    if args.data is None and args.test_data is None:
        raise KaudioError("give --data DIR (the run's folder) and/or --test-data OTHER (another labelled folder)")
    run_dir = Path(args.run_dir)
    spec, _ = load_run(run_dir, need_model=False)
    trainer = trainer_for(spec)
    thresholds_file = run_dir / "thresholds.json"
    data = trainer.load_data(args.data, split_file=find_split_file(run_dir)) if args.data else None
    other = trainer.load_data(args.test_data, all_test=True) if args.test_data else None
    tagging = target_kind_of(spec.sections) != "singlelabel"  # taggers have F1 thresholds
    if other is not None and data is None and tagging and not thresholds_file.is_file():
        raise KaudioError(f"{run_dir} has no thresholds.json to score --test-data with; give --data with the folder "
                          "the run was trained on, so the thresholds are tuned on its validation split")
    model = load_run(run_dir)[1]
    try:
        if other is not None:
            thresholds = None if data is not None or not tagging else load_thresholds(thresholds_file, label_names(model))
            stem = f"metrics_{Path(args.test_data).resolve().name}"
            result = trainer.evaluate(model, data.dataset("val") if data is not None else None,
                                      other.dataset("test"), None, thresholds=thresholds)
            from kaudio.metrics import write_table

            write_table({spec.head["type"]: result["rows"]}, run_dir / stem)
            source = "tuned on --data's validation split" if data is not None else f"from {thresholds_file}"
            print(f"kaudio evaluate: {spec.name} on {args.test_data} ({len(other.splits['test'])} clips)"
                  + (f", thresholds {source}" if tagging else ""))
            print(result["markdown"], end="")
            print(f"kaudio evaluate: wrote {run_dir / (stem + '.md')}, {run_dir / (stem + '.csv')}")
            return 0
        result = trainer.evaluate(model, data.dataset("val"), data.dataset(args.split), run_dir, split=args.split)
    except tf.errors.OpError as err:
        reraise_data_errors(err)
    print(f"kaudio evaluate: {spec.name} on the {args.split} split ({len(data.splits[args.split])} clips)"
          + (f", thresholds tuned on {len(data.splits['val'])} validation clips" if tagging else ""))
    print(result["markdown"], end="")
    print(f"kaudio evaluate: wrote {run_dir / 'metrics.md'}, {run_dir / 'metrics.csv'}"
          + (f", {thresholds_file}" if tagging else ""))
    return 0
