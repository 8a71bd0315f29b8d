"""``kaudio train SPEC --data DIR``: train with the spec's trainer (``train.type``), evaluate, write a run directory.

The run directory (``--out``, default ``runs/<name>_<time>``) receives what :func:`kaudio.fit`
writes (spec.yaml, best.keras, checkpoints/, logs/, history.csv) plus split.json, thresholds.json
(taggers) and metrics.md/metrics.csv from the evaluation on the test split (the validation split
when the data has no test rows). A tagger or classifier spec that names no classes takes them from
the data. ``--lambda-grid`` first searches λ (hierarchical heads; keras-tuner GridSearch, lowest
validation fine BCE); ``--seeds N`` repeats the run with seeds 0..N−1 and reports mean ± std.
Running the same command again on an interrupted run directory resumes it.
"""
from __future__ import annotations

from pathlib import Path

COMMAND = "train"
HELP = "train a tagger or classifier on a labels.csv folder and evaluate it"


def add_arguments(parser) -> None:
    parser.add_argument("spec", help="a spec file or bundled spec name (hierarchical head, tagger or classifier)")
    parser.add_argument("--data", required=True, metavar="DIR", help="folder with audio files and labels.csv, or an OpenMIC-2018 release")
    parser.add_argument("--out", metavar="RUN_DIR", help="run directory (default: runs/<name>_<time>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override a spec field, e.g. --set loss.fine_weight=0.9 (repeatable)")
    parser.add_argument("--epochs", type=int, help="shortcut for --set train.epochs=N")
    parser.add_argument("--seeds", type=int, default=1, metavar="N", help="repeat with seeds 0..N-1, report mean ± std")
    parser.add_argument("--lambda-grid", nargs="*", type=float, metavar="L",
                        help="hierarchical heads: search loss.fine_weight over these values (default grid 0.70 0.75 "
                             "0.80 0.85 0.90)")
    parser.add_argument("--quiet", "-q", action="store_true", help="one line per epoch instead of progress bars "
                                                                     "(always so when the output is not a terminal)")


def run(args) -> int:
    import sys

    import tensorflow as tf

    from kaudio.errors import KaudioError
    from kaudio.training.data import reraise_data_errors, with_data_classes
    from kaudio.training.fit import default_run_dir, fit, training_spec
    from kaudio.training.trainer import trainer_for
    from kaudio.training.tuning import LAMBDA_GRID, lambda_grid_search, run_seeds
    from kaudio.writable import ensure_writable_folder

    overrides = list(args.overrides)
    if args.epochs is not None:
        if args.epochs < 1:
            raise KaudioError(f"--epochs must be >= 1, got {args.epochs}")
        overrides.append(f"train.epochs={args.epochs}")
    if args.seeds < 1:
        raise KaudioError(f"--seeds must be >= 1, got {args.seeds}")
    spec = training_spec(args.spec, overrides)
    from kaudio.training.distribution import make_strategy

    make_strategy(spec.train.get("distribution"), spec.source)  # multi-worker must start before any dataset
    if args.lambda_grid is not None and (spec.loss or {}).get("type") != "hierarchical_bce":
        raise KaudioError("--lambda-grid searches λ of the hierarchical BCE (loss.fine_weight); this spec's loss is "
                          f"{(spec.loss or {}).get('type')!r}")
    out = Path(args.out) if args.out else default_run_dir(spec)
    ensure_writable_folder(out, "run folder")
    spec = with_data_classes(spec, args.data, announce=lambda line: print(line, file=sys.stderr))
    trainer = trainer_for(spec)
    data = trainer.load_data(args.data)
    verbose = 2 if args.quiet or not sys.stdout.isatty() else 1  # Keras' bar redraws in place: terminals only
    data.save_split(out / "split.json")  # `kaudio evaluate` scores exactly this split
    unit = getattr(data, "unit", "clips")  # an AVC run splits videos
    model_kind = f"{spec.head['type']} head" if spec.head else f"{spec.fusion['type']} fusion of {', '.join(spec.towers)}"
    print(f"kaudio train: {spec.name} ({model_kind}, {spec.train['type']} training) on {args.data}: "
          + ", ".join(f"{len(data.splits[k])} {k}" for k in ("train", "val", "test")) + f" {unit} → {out}")
    test_split = "test" if len(data.splits["test"]) else "val"
    if test_split == "val":
        print(f"kaudio train: the data has no test {unit}; the metrics below are on the validation {unit}")

    def train_ds(seed):
        return data.dataset("train", seed)

    def val_ds(seed):
        return data.dataset("val", seed)

    def test_ds(seed):
        return data.dataset(test_split, seed)

    try:
        if args.lambda_grid is not None:
            grid = args.lambda_grid or list(LAMBDA_GRID)
            search = lambda_grid_search(spec, train_ds, val_ds, out, grid=grid, verbose=verbose)
            for trial in search["trials"]:
                print(f"  λ = {trial['fine_weight']:.2f}: best val_fine_bce {trial['val_fine_bce']:.4f}")
            print(f"kaudio train: best λ (loss.fine_weight) = {search['best_fine_weight']:.2f}")
            spec = training_spec(spec, {"loss.fine_weight": search["best_fine_weight"]})
            if args.seeds == 1:
                best_dir = Path(search["best_run_dir"])
                import keras

                model = keras.models.load_model(best_dir / "best.keras")
                result = trainer.evaluate(model, val_ds(0), test_ds(0), best_dir, split=test_split)
                print(result["markdown"], end="")
                print(f"kaudio train: run directory {best_dir}")
                return 0
            out = out / "seeds"
        if args.seeds > 1:
            summary = run_seeds(spec, train_ds, val_ds, test_ds, out, seeds=args.seeds, verbose=verbose,
                                trainer=trainer, split=test_split)
            print(summary["markdown"], end="")
            print(f"kaudio train: {args.seeds} runs in {out}; table in {out / 'metrics.md'}")
            return 0
        seed = spec.train["seed"]
        result = fit(spec, train_ds(seed), val_ds(seed), run_dir=out, verbose=verbose)
        evaluation = trainer.evaluate(result.model, val_ds(seed), test_ds(seed), out, split=test_split)
    except tf.errors.OpError as err:
        reraise_data_errors(err)
    print(f"kaudio train: best epoch {result.best_epoch} of {len(result.history.get('loss', []))}")
    print(evaluation["markdown"], end="")
    print(f"kaudio train: run directory {out}")
    return 0
