"""``kaudio ofa ...``: once-for-all supernets (Lin et al., "Weight-sharing supernet for searching
specialized acoustic event classification networks across device constraints", ICASSP 2023).

* ``kaudio ofa space SPEC [--set ...] [--json]`` — the sub-networks of a spec with an ``ofa_cnn``
  backbone: how many, the choices, and the parameter range (analytic counts, no model built;
  the head's parameters included). Counts grow with every width and depth, so the smallest and
  largest configurations bound the range.
* ``kaudio ofa extract SOURCE CONFIG --out small.keras [--tflite] [--overwrite]`` — SOURCE is a
  supernet ``.keras`` file or a run folder (its ``best.keras``); CONFIG a YAML/JSON file or an
  inline JSON mapping ``{"widths": [...], "depths": [...], "fc_width": ...}``. Writes the
  sub-network as a plain ``panns_cnn`` model and prints its parameters. ``--tflite`` also writes
  ``small.tflite`` (float32) and ``small.int8.tflite`` (dynamic-range int8), checks them against
  the Keras model and prints their size and CPU latency per clip (:mod:`kaudio.deploy.tflite`).
  ``--data DIR`` re-estimates its BatchNorm statistics on training batches of DIR, as the search
  does (:mod:`kaudio.models.ofa.calibrate`).
* ``kaudio ofa search RUN --data DIR --params 0.8M 1.8M 2.8M 3.8M [--epsilon 0.2M] [--population 25]
  [--calibration-batches N | --no-calibration] [--seed S] [--out DIR] [--overwrite]`` — the random search
  of Lin et al. §2.4 on a trained supernet run (its ``best.keras``, the validation split of its
  ``split.json``): per budget, p in-budget sub-networks scored on the validation mAP without
  training (:mod:`kaudio.training.ofa_search`); results in RUN/search (keras-tuner projects,
  ``best_<N>.yaml`` / ``.keras``, ``summary.md``). Rerunning an interrupted search resumes it.
* ``kaudio ofa plot RUN [--latency [chosen|all]] [--out PNG]`` — the Pareto plot of a search
  (validation mAP against trainable parameters; with ``--latency`` also against the TFLite float32
  latency per clip), :mod:`kaudio.training.ofa_plot`.

Nothing heavy is imported until a command runs (``kaudio --help`` stays fast).
"""
from __future__ import annotations

import json
from pathlib import Path

COMMAND = "ofa"
HELP = ("once-for-all supernets: the sub-network space, extraction as a plain model (and TFLite), the search under "
        "parameter budgets and its Pareto plot")
#: Float TFLite outputs further than this from Keras get a warning (the measured difference is ~1e-7).
TFLITE_TOLERANCE = 1e-4
#: Defaults of the search, as the library's (kaudio.models.ofa.calibrate.DEFAULT_CALIBRATION_BATCHES,
#: kaudio.training.ofa_search.DEFAULT_POPULATION / DEFAULT_EPSILON), written out so --help imports no TensorFlow.
CALIBRATION_BATCHES, POPULATION, EPSILON = 20, 25, "0.2M"


def add_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="ofa_action", metavar="ACTION", required=True)
    space = actions.add_parser("space", help="the sub-networks of a spec's ofa_cnn supernet and their parameter range",
                               description="Count the sub-networks of a spec's ofa_cnn backbone, list the choices and "
                                           "the parameter range (closed-form counts; no model is built).")
    space.add_argument("spec", help="a spec file or bundled spec name with an ofa_cnn backbone (e.g. ofa_cnn10)")
    space.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a spec field, e.g. --set backbone.elastic_fc=false (repeatable)")
    space.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    extract = actions.add_parser("extract", help="cut one sub-network out of a supernet as a plain model",
                                 description="Write the sub-network CONFIG of a supernet as a plain panns_cnn model "
                                             "(.keras, loadable without the supernet), optionally as TFLite too.")
    extract.add_argument("source", metavar="SOURCE", help="a supernet .keras file or a run folder (its best.keras)")
    extract.add_argument("config", metavar="CONFIG", help="a YAML/JSON file or an inline JSON mapping, e.g. "
                         '\'{"widths": [0.4, 0.6, 1.0], "depths": [2, 2, 1], "fc_width": 0.4}\'')
    extract.add_argument("--out", required=True, help="the plain model to write, ending in .keras")
    extract.add_argument("--overwrite", action="store_true", help="replace the output files if they exist")
    extract.add_argument("--name", help="the extracted model's name (default: <supernet name>_subnet)")
    extract.add_argument("--tflite", action="store_true",
                         help="also write OUT.tflite (float32) and OUT.int8.tflite (dynamic-range int8), check them "
                              "against Keras and measure their CPU latency per clip")
    extract.add_argument("--tflite-input", choices=("waveform", "features"), default="waveform",
                         help="waveform: the whole model (kapre's STFT needs TF Select for one op); features: from the "
                              "log-mel onwards, TFLite builtins only (compute the front end separately)")
    extract.add_argument("--threads", type=int, default=1, help="TFLite interpreter threads for the latency (default 1)")
    extract.add_argument("--runs", type=int, default=20, help="timed TFLite calls; the median is printed (default 20)")
    extract.add_argument("--data", metavar="DIR", help="re-calibrate the BatchNorm statistics on training batches of "
                                                      "this folder (the one the supernet was trained on), as the "
                                                      "search does")
    _calibration_arguments(extract, with_switch=False)
    extract.add_argument("--seed", type=int, default=0, help="seed of the calibration clips (the search's --seed)")
    _search_arguments(actions.add_parser(
        "search", help="the best sub-network per parameter budget (random search, no training)",
        description="Random search of Lin et al. (ICASSP 2023, §2.4) on a trained supernet run: per budget N, "
                    "POPULATION sub-networks with N-EPSILON..N+EPSILON trainable parameters are extracted, "
                    "BN re-calibrated and scored on the validation mAP; the best is written as "
                    "RUN/search/best_<N>.yaml and .keras."))
    plot = actions.add_parser("plot", help="Pareto plot of a search: validation mAP against parameters (and latency)",
                              description="Plot every searched candidate (validation mAP against trainable "
                                          "parameters), the chosen one per budget highlighted and the budgets "
                                          "shaded; --latency adds a panel against the TFLite float32 latency.")
    plot.add_argument("run", metavar="RUN", help="a supernet run folder with a search (RUN/search)")
    plot.add_argument("--search-dir", metavar="DIR", help="the search folder (default RUN/search)")
    plot.add_argument("--out", metavar="PNG", help="the image to write (default SEARCH_DIR/pareto.png)")
    plot.add_argument("--latency", nargs="?", const="chosen", choices=("chosen", "all"),
                      help="also measure TFLite float32 latency per clip (1 thread): of the chosen sub-networks "
                           "(default), or of all candidates (slower); cached in SEARCH_DIR/latency.json")
    plot.add_argument("--runs", type=int, default=20, help="timed TFLite calls per model; the median is used")


def _calibration_arguments(parser, with_switch: bool) -> None:
    parser.add_argument("--calibration-batches", type=int, default=CALIBRATION_BATCHES, metavar="N",
                        help="training batches the BatchNorm statistics are re-estimated on (default %(default)s)")
    if with_switch:
        parser.add_argument("--no-calibration", action="store_true",
                            help="score each candidate with the supernet's shared BN statistics (as extracted)")


def _search_arguments(search) -> None:
    search.add_argument("run", metavar="RUN", help="a supernet run folder (kaudio train with train.type: ofa)")
    search.add_argument("--data", required=True, metavar="DIR",
                        help="the folder the run was trained on (validation clips are scored, training clips "
                             "calibrate BN; the split is the run's split.json)")
    search.add_argument("--params", nargs="+", required=True, metavar="N",
                        help="trainable-parameter budgets, e.g. 0.8M 1.8M 2.8M 3.8M (also 800k or 1800000)")
    search.add_argument("--epsilon", default=EPSILON, help="tolerance: a budget N takes N-EPSILON..N+EPSILON "
                                                           "(default %(default)s)")
    search.add_argument("--population", type=int, default=POPULATION, metavar="P",
                        help="candidates scored per budget (default %(default)s; all when fewer fit)")
    _calibration_arguments(search, with_switch=True)
    search.add_argument("--seed", type=int, default=0, help="seed of the candidate draw and the calibration clips")
    search.add_argument("--out", metavar="DIR", help="the search folder (default RUN/search)")
    search.add_argument("--overwrite", action="store_true", help="start the budgets' searches over")


def run(args) -> int:
    return {"space": _space, "extract": _extract, "search": _search, "plot": _plot}[args.ofa_action](args)


# --- space ------------------------------------------------------------------------------------

def _space(args) -> int:
    from kaudio.models.ofa import config_label, space_from_spec
    from kaudio.spec import load_spec

    spec = load_spec(args.spec, args.overrides)
    space, classes = space_from_spec(spec)
    ends = {which: (getattr(space, which)(), None) for which in ("smallest", "largest")}
    ends = {which: (config, space.count_params(config, classes)) for which, (config, _) in ends.items()}
    if args.json:
        print(json.dumps({"spec": spec.name, "num_classes": classes, **space.describe(),
                          "choices": [{"key": c.key, "options": list(c.options)} for c in space.choices],
                          **{which: {"config": config, "trainable_params": counts.trainable,
                                     "keras_params": counts.total} for which, (config, counts) in ends.items()}},
                         indent=2))
        return 0
    head = f"{classes}-class {spec.head['type']} included" if classes else "no head"
    print(f"{spec.name}: {space.size:,} sub-networks ({' x '.join(map(str, space.choice_sizes))} choices)")
    ratios = "/".join(f"{r:g}" for r in space.width_ratios)
    for block in space.dynamic_blocks:
        depth = ", depth 1 or 2" if block in space.elastic_depth_blocks else ""
        widths = "/".join(map(str, space.block_widths(block)))
        print(f"  conv_block{block}: width ratio {ratios} -> {widths} channels{depth}")
    fc = ("width ratio " + ratios + " -> " + "/".join(map(str, space.fc_widths)) + " units") if space.elastic_fc \
        else f"fixed at {space.embedding_size} units"
    print(f"  fc1: {fc}")
    small, large = ends["smallest"][1], ends["largest"][1]
    print(f"trainable parameters ({head}): {small.trainable:,} to {large.trainable:,}")
    for which, (config, counts) in ends.items():
        print(f"  {which:<8} {config_label(config)}: {counts.trainable:,} trainable, {counts.total:,} with the BN "
              "moving statistics")
    return 0


# --- extract ----------------------------------------------------------------------------------

def _extract(args) -> int:
    from kaudio.errors import KaudioError
    from kaudio.models.ofa import config_label, count_params, extract_subnet, load_config, ofa_backbone
    from kaudio.writable import ensure_writable_file

    out = Path(args.out)
    if out.suffix != ".keras":
        raise KaudioError(f"--out must end in .keras (Keras 3 model archive), got {str(out)!r}")
    if args.threads < 1 or args.runs < 1:
        raise KaudioError(f"--threads and --runs must be >= 1, got {args.threads} and {args.runs}")
    tflite_paths = _tflite_paths(out) if args.tflite else {}
    for path in (out, *tflite_paths.values()):  # before any work: nothing is replaced silently
        ensure_writable_file(path, args.overwrite, what="output file")
    data, where = load_config(args.config)
    model = _load_supernet(Path(args.source))
    backbone = ofa_backbone(model, what=args.source)
    config = backbone.space.validate(data, where)
    plain = extract_subnet(model, config, name=args.name)
    if args.data:
        from kaudio.models.ofa.calibrate import recalibrate_batch_norm

        calibration = _calibration(model.spec, Path(args.source), args.data, args.calibration_batches, args.seed)
        seen = recalibrate_batch_norm(plain, calibration)
        print(f"BatchNorm statistics re-estimated on {seen} training clips of {args.data}")
    counts = count_params(model, config)
    built = sum(int(w.numpy().size) for w in plain.trainable_weights)
    if built != counts.trainable:
        raise KaudioError(f"internal error: the extracted model has {built:,} trainable parameters, the closed form "
                          f"{counts.trainable:,}; please report this with the supernet's spec")
    plain.save(out)
    print(f"{args.source} -> {out}: {config_label(config)}")
    print(f"  {counts.trainable:,} trainable parameters, {counts.total:,} with the BN moving statistics "
          f"(the supernet: {sum(int(w.numpy().size) for w in model.trainable_weights):,} trainable)")
    if args.tflite:
        _write_tflite(plain, tflite_paths, args.tflite_input, args.threads, args.runs)
    return 0


def _tflite_paths(out: Path) -> dict[str, Path]:
    stem = out.with_suffix("")
    return {"float32": stem.with_name(stem.name + ".tflite"), "dynamic_int8": stem.with_name(stem.name + ".int8.tflite")}


def _load_supernet(source: Path):
    """The model of SOURCE: a ``.keras`` file, or a run folder's ``best.keras``."""
    from kaudio.errors import KaudioError
    from kaudio.training.init_weights import load_source_model

    if source.is_dir():
        best = source / "best.keras"
        if not best.is_file():
            raise KaudioError(f"{source} has no best.keras: the run has not finished its first epoch yet, or it is not "
                              "a `kaudio train` run folder")
        source = best
    elif source.suffix != ".keras":
        raise KaudioError(f"SOURCE must be a .keras model or a run folder, got {str(source)!r}")
    try:
        return load_source_model(source, key="SOURCE")
    except KaudioError as err:  # Keras's own message may span lines; the command line prints one
        raise KaudioError(" ".join(str(err).split())) from err


def _write_tflite(plain, paths: dict[str, Path], input_kind: str, threads: int, runs: int) -> None:
    import warnings

    import numpy as np

    from kaudio.deploy import tflite

    examples = tflite.keras_inputs(plain, input_kind, count=2)
    expected = np.asarray(tflite.export_model(plain, input_kind)(examples))
    rows = []
    for quantization, path in paths.items():
        export = tflite.convert(plain, path, quantization, input_kind)
        difference = float(np.abs(tflite.run(path, examples, threads) - expected).max())
        latency = tflite.measure_latency(path, threads=threads, runs=runs)
        rows.append((path, quantization, export, difference, latency))
        if quantization == "float32" and difference > TFLITE_TOLERANCE:
            warnings.warn(f"{path}: the float32 TFLite outputs differ from Keras by up to {difference:.2g}")
    what = "waveform" if input_kind == "waveform" else "log-mel features"
    print(f"TFLite ({what} input {tuple(examples.shape[1:])}, batch 1; latency: median of {runs} calls, "
          f"{threads} thread{'s' if threads > 1 else ''}):")
    print(f"  {'file':<28} {'weights':<13} {'size':>9}  {'max |TFLite - Keras|':>20}  {'latency':>10}")
    for path, quantization, export, difference, latency in rows:
        print(f"  {path.name:<28} {quantization:<13} {export.size_bytes / 1e6:>7.2f} MB  {difference:>20.2e}  "
              f"{latency.median_ms:>7.2f} ms")
    select = sorted({op for _, _, export, _, _ in rows for op in export.select_ops})
    if select:
        print(f"  note: {', '.join(select)} run{'s' if len(select) == 1 else ''} through TF Select (kapre's complex STFT "
              "transpose); use --tflite-input features for TFLite builtins only")


# --- search and plot --------------------------------------------------------------------------

def _calibration(spec, source: Path, data_dir: str, batches: int, seed: int):
    """The calibration batches of a supernet's data folder (its run's split when SOURCE is a run folder)."""
    from kaudio.errors import KaudioError
    from kaudio.training.data import find_split_file
    from kaudio.training.ofa_search import calibration_dataset
    from kaudio.training.trainer import trainer_for

    if batches < 1:
        raise KaudioError(f"--calibration-batches must be >= 1, got {batches} (or give --no-calibration)")
    split = find_split_file(source) if source.is_dir() else None
    return calibration_dataset(trainer_for(spec).load_data(data_dir, split_file=split), batches, seed)


def _search(args) -> int:
    import tensorflow as tf

    from kaudio.cli.evaluate import load_run
    from kaudio.training.fit import load_best_model
    from kaudio.errors import KaudioError
    from kaudio.models.ofa import ofa_backbone
    from kaudio.training.data import find_split_file, reraise_data_errors
    from kaudio.training.ofa_search import calibration_dataset, file_digest, parse_budgets, search
    from kaudio.training.trainer import trainer_for
    from kaudio.writable import ensure_writable_folder

    run_dir = Path(args.run)
    budgets = parse_budgets(args.params, args.epsilon)
    if args.population < 1:
        raise KaudioError(f"--population must be >= 1, got {args.population}")
    if not args.no_calibration and args.calibration_batches < 1:
        raise KaudioError(f"--calibration-batches must be >= 1, got {args.calibration_batches} (or give "
                          "--no-calibration)")
    spec, _ = load_run(run_dir)  # a run without best.keras is refused here
    out = Path(args.out) if args.out else run_dir / "search"
    ensure_writable_folder(out, "search folder")
    data = trainer_for(spec).load_data(args.data, split_file=find_split_file(run_dir))
    supernet = load_best_model(run_dir)
    ofa_backbone(supernet, what=str(run_dir / "best.keras"))
    identity = {"supernet": file_digest(run_dir / "best.keras"), "spec": spec.name,
                "data": str(Path(args.data).resolve()), "validation_clips": int(len(data.splits["val"]))}
    calibration = None if args.no_calibration else calibration_dataset(data, args.calibration_batches, args.seed)
    try:
        result = search(supernet, data.dataset("val", spec.train["seed"]), out, budgets, population=args.population,
                        calibration=calibration, calibration_batches=0 if args.no_calibration else
                        args.calibration_batches, seed=args.seed, identity=identity, overwrite=args.overwrite)
    except tf.errors.OpError as err:
        reraise_data_errors(err)
    if result is None:
        print("kaudio ofa search: this worker is done; the chief writes the results")
        return 0
    print(result.markdown, end="")
    print(f"kaudio ofa search: wrote {out / 'summary.md'}, "
          + ", ".join(f"best_{b.label}.yaml/.keras" for b in budgets) + f" in {out}")
    return 0


def _plot(args) -> int:
    from kaudio.errors import KaudioError
    from kaudio.training.ofa_plot import measure_latencies, plot_search, read_summary

    run_dir = Path(args.run)
    search_dir = Path(args.search_dir) if args.search_dir else run_dir / "search"
    if args.runs < 1:
        raise KaudioError(f"--runs must be >= 1, got {args.runs}")
    summary = read_summary(search_dir)
    latencies = None
    if args.latency:
        latencies = measure_latencies(search_dir, summary, which=args.latency, runs=args.runs,
                                      supernet=lambda: _load_supernet(run_dir), report=print)
    out = Path(args.out) if args.out else search_dir / "pareto.png"
    plot_search(summary, out, latencies)
    print(f"kaudio ofa plot: wrote {out}")
    return 0
