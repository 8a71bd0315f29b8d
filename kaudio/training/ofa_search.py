"""Random search for the best sub-network of a trained once-for-all supernet under parameter budgets
(Lin et al., "Weight-sharing supernet for searching specialized acoustic event classification
networks across device constraints", ICASSP 2023, §2.4 and §3.3).

For each constraint N: the sub-networks with ``N − ε ≤ trainable parameters ≤ N + ε`` (closed-form
counts, head included, :meth:`~kaudio.models.ofa.OfaSpace.count_params`); ``p`` of them drawn at
random without repetition (the paper: p = 25, ε = 0.2M, N ∈ {0.8M, 1.8M, 2.8M, 3.8M}; every one
of them when fewer fit); each scored on the validation split **without training** — extracted as a
plain model (:func:`~kaudio.models.ofa.extract_subnet`), its BatchNorm statistics re-estimated on
a few training batches (:mod:`kaudio.models.ofa.calibrate`; on by default, which Lin et al. do
not mention) — and the best validation mAP kept. The scored model is exactly the one deployed.

keras-tuner runs it: :class:`BudgetOracle` (an ``Oracle`` whose hyper-parameters are the space's
choices — one ``Choice`` per width, depth and fc width — and whose ``populate_space`` hands out only
in-budget configurations, so an out-of-budget one never becomes a trial) and
:class:`CandidateTuner` (``run_trial`` scores a configuration; nothing is trained). Each
constraint is one keras-tuner project, ``OUT/params_<N>/`` (``oracle.json``, ``trial_*/``), so
``tuner.results_summary()`` works on it and an interrupted search resumes without redoing its
finished trials (keras-tuner reloads them; the candidates come from a seeded draw, so the
remaining ones are the same). A project records what it searched (``kaudio_search.json``: the
supernet's identity, e.g. the SHA-256 of the run's ``best.keras``, the data, ε, p, the
calibration and the seed); a project made with others is refused, naming the differences.

Written per constraint: ``OUT/params_<N>/candidates.json`` (configuration, trainable parameters,
validation mAP of every scored candidate), ``OUT/best_<N>.yaml`` (the best configuration, a file
``kaudio ofa extract`` takes) and ``OUT/best_<N>.keras`` (the scored plain model, BN
re-calibrated); for all constraints found in ``OUT``: ``summary.md`` and ``summary.json``.

Distributed (keras-tuner's own mode, several processes or machines sharing ``OUT``): start one
process with ``KERASTUNER_TUNER_ID=chief`` and the others with ``KERASTUNER_TUNER_ID=tuner0``,
``tuner1``, …, all with ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT`` naming the chief's
address. The chief only serves the oracle (it scores nothing) and writes the results when every
trial has ended; the workers score candidates.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import keras_tuner
import numpy as np

from kaudio.errors import KaudioError
from kaudio.models.ofa.space import OfaSpace, format_count, parse_count
from kaudio.models.ofa.subnet import config_label

OBJECTIVE = "val_map"
DEFAULT_POPULATION = 25
DEFAULT_EPSILON = 200_000
SETTINGS_FILE = "kaudio_search.json"
CANDIDATES_FILE = "candidates.json"


@dataclass(frozen=True)
class Budget:
    """A parameter constraint ``params ± epsilon`` (trainable parameters, inclusive)."""

    params: int
    epsilon: int

    @property
    def low(self) -> int:
        return max(self.params - self.epsilon, 0)

    @property
    def high(self) -> int:
        return self.params + self.epsilon

    @property
    def label(self) -> str:
        """``1.8M``, ``800k``: the name of the constraint's files."""
        return format_count(self.params)

    @property
    def folder(self) -> str:
        return f"params_{self.label}"

    def __contains__(self, count: int) -> bool:
        return self.low <= count <= self.high

    def describe(self) -> str:
        return f"{self.label} ± {format_count(self.epsilon)} ({self.low:,}-{self.high:,} trainable parameters)"


def parse_budgets(params: Sequence["str | int"], epsilon: "str | int" = DEFAULT_EPSILON) -> list[Budget]:
    """Budgets from counts as written on the command line (``1.8M``, ``800k``, ``1800000``)."""
    eps = parse_count(epsilon, "--epsilon")
    found = [Budget(parse_count(p, "--params"), eps) for p in params]
    if not found:
        raise KaudioError("give at least one parameter budget, e.g. --params 0.8M 1.8M")
    labels = [b.label for b in found]
    if len(set(labels)) < len(labels):
        raise KaudioError(f"--params names a budget twice: {' '.join(labels)}")
    return found


# --- the candidates of a budget ---------------------------------------------------------------

def in_budget(space: OfaSpace, num_classes: int | None, budget: Budget) -> list[tuple[dict, int]]:
    """``[(configuration, trainable parameters)]`` of every sub-network within ``budget``, in index order.

    Raises:
        KaudioError: none fits; the message names the nearest sizes below and above the band and the
            space's range.
    """
    sizes = [(config, space.count_params(config, num_classes).trainable) for config in space.configs()]
    inside = [(config, n) for config, n in sizes if n in budget]
    if inside:
        return inside
    below = max((item for item in sizes if item[1] < budget.low), key=lambda item: item[1], default=None)
    above = min((item for item in sizes if item[1] > budget.high), key=lambda item: item[1], default=None)
    nearest = "; ".join(f"{where} {n:,} ({config_label(config)})" for where, item in (("below:", below),
                                                                                       ("above:", above))
                        if item is not None for config, n in [item])
    smallest, largest = min(n for _, n in sizes), max(n for _, n in sizes)
    raise KaudioError(f"no sub-network of this supernet has {budget.describe()}; the nearest sizes are {nearest} "
                      f"(the space spans {smallest:,} to {largest:,}); choose another budget or a wider --epsilon")


def draw_population(candidates: Sequence, population: int, seed: int) -> list:
    """``population`` of ``candidates`` drawn at random without repetition (all of them, in a random order,
    when fewer); the same for the same seed."""
    chosen = list(candidates)
    random.Random(seed).shuffle(chosen)
    return chosen[:population]


# --- configurations as keras-tuner hyper-parameters ----------------------------------------------

def choice_names(space: OfaSpace) -> list[str]:
    """One hyper-parameter name per choice of the space: ``width_conv_block2`` …, ``depth_conv_block4``,
    ``fc_width``."""
    names = [f"width_conv_block{b}" for b in space.dynamic_blocks]
    names += [f"depth_conv_block{b}" for b in space.elastic_depth_blocks]
    return names + (["fc_width"] if space.elastic_fc else [])


def hyperparameters(space: OfaSpace) -> keras_tuner.HyperParameters:
    """The space as keras-tuner ``Choice`` hyper-parameters (what ``search_space_summary`` lists)."""
    hp = keras_tuner.HyperParameters()
    for name, choice in zip(choice_names(space), space.choices):
        hp.Choice(name, list(choice.options), ordered=True)
    return hp


def hp_values(space: OfaSpace, config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration as hyper-parameter values."""
    return {name: choice.options[i] for name, choice, i in zip(choice_names(space), space.choices,
                                                                space.to_indices(config))}


def config_from_values(space: OfaSpace, values: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration of hyper-parameter values (inverse of :func:`hp_values`)."""
    return space.from_indices([list(choice.options).index(values[name])
                               for name, choice in zip(choice_names(space), space.choices)])


class BudgetOracle(keras_tuner.Oracle):
    """Hands out the drawn in-budget configurations one per trial, skipping those already tried (so a
    reloaded search continues with the rest), then stops.

    Args:
        space: the supernet's space.
        population: the configurations to score, in order (:func:`draw_population` of :func:`in_budget`).
    """

    def __init__(self, space: OfaSpace, population: Sequence[Mapping[str, Any]], **kwargs):
        super().__init__(objective=keras_tuner.Objective(OBJECTIVE, "max"), max_trials=len(population),
                         hyperparameters=hyperparameters(space), allow_new_entries=False, tune_new_entries=False,
                         **kwargs)
        self.space = space
        self.population = [hp_values(space, config) for config in population]

    def populate_space(self, trial_id):
        tried = [trial.hyperparameters.values for trial in self.trials.values()]
        for values in self.population:
            if values not in tried:
                return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING, "values": dict(values)}
        return {"status": keras_tuner.engine.trial.TrialStatus.STOPPED, "values": None}


class CandidateTuner(keras_tuner.Tuner):
    """Scores configurations instead of training models: ``run_trial`` returns ``score(config)``
    (``{"val_map": ..., ...}``) for the configuration of the trial's hyper-parameters. A
    :class:`KaudioError` stops the search (keras-tuner would otherwise record the trial as failed and go on)."""

    def __init__(self, oracle: BudgetOracle, space: OfaSpace, score: Callable[[dict], dict], **kwargs):
        super().__init__(oracle, **kwargs)
        self.space, self.score = space, score

    def run_trial(self, trial, *args, **kwargs):
        config = config_from_values(self.space, trial.hyperparameters.values)
        try:
            return self.score(config)
        except KaudioError as err:
            raise keras_tuner.errors.FatalError(str(err)) from err


# --- scoring ----------------------------------------------------------------------------------

class CandidateScorer:
    """Scores a sub-network of ``supernet``: extracted, BN re-calibrated on ``calibration`` (``None``: not), its
    validation mAP on ``val_ds``. ``report(line)`` gets one line per candidate."""

    def __init__(self, supernet, val_ds, calibration=None, report: Callable[[str], None] = print):
        from kaudio.models.ofa import head_classes, ofa_space

        self.supernet, self.val_ds, self.calibration, self.report = supernet, val_ds, calibration, report
        self.space, self.classes = ofa_space(supernet), head_classes(supernet)
        self.prefix = ""

    def model(self, config: Mapping[str, Any]):
        """The plain, calibrated sub-network (what is scored and deployed)."""
        from kaudio.models.ofa.calibrate import calibrated_subnet

        return calibrated_subnet(self.supernet, config, self.calibration)

    def __call__(self, config: Mapping[str, Any]) -> dict[str, float]:
        from kaudio.training.evaluate import predict_dataset
        from kaudio.training.kd import validation_map

        start = time.perf_counter()
        params = self.space.count_params(config, self.classes).trainable
        targets, scores = predict_dataset(self.model(config), self.val_ds)
        value = float(validation_map(targets, scores)[OBJECTIVE])
        if not math.isfinite(value):
            raise KaudioError("the validation mAP is undefined: no class of the validation split has both a "
                              "positive and a negative clip; give a larger validation split")
        self.report(f"{self.prefix}{config_label(config)}: {params:,} parameters, val mAP {value:.4f} "
                    f"({time.perf_counter() - start:.1f} s)")
        return {OBJECTIVE: value, "trainable_params": float(params)}


def calibration_dataset(data, batches: int, seed: int = 0):
    """``batches`` batches of training clips for BN re-calibration: a seeded random subset of the training
    split in a fixed order (each clip's first ``input.samples``), cached, so every candidate sees the same."""
    from kaudio.data import make_dataset

    spec = data.spec
    batch_size = (spec.train or {}).get("batch_size", 16)
    train = np.asarray(data.splits["train"])
    if len(train) == 0:
        raise KaudioError("BN re-calibration needs training clips and the data has none; use --no-calibration")
    chosen = np.random.default_rng(seed).permutation(train)[:batches * batch_size]
    return make_dataset(data.table, chosen, spec.input["sample_rate"], spec.input["samples"], batch_size=batch_size,
                        shuffle=False, cache="memory")


# --- the search -------------------------------------------------------------------------------

def file_digest(path: "str | os.PathLike") -> str:
    """SHA-256 of a file (a supernet's ``best.keras``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class SearchResult:
    """What :func:`search` returns: per budget label, its summary entry; and the summary's markdown."""

    constraints: dict[str, dict]
    markdown: str
    out_dir: Path


def search(supernet, val_ds, out_dir: "str | os.PathLike", budgets: Sequence[Budget],
           population: int = DEFAULT_POPULATION, calibration=None, calibration_batches: int = 0, seed: int = 0,
           identity: Mapping[str, Any] | None = None, overwrite: bool = False,
           report: Callable[[str], None] = print) -> SearchResult | None:
    """Search each budget (module docstring) and write the results into ``out_dir``.

    Args:
        supernet: the trained supernet (a KaudioModel with an ``ofa_cnn`` backbone).
        val_ds: validation ``(audio, {"labels", ...})`` batches.
        out_dir: the search folder (one keras-tuner project per budget inside).
        budgets: the constraints (:func:`parse_budgets`).
        population: p, candidates per budget.
        calibration: training batches for BN re-calibration (:func:`calibration_dataset`), or ``None``.
        calibration_batches: how many (recorded with the results).
        seed: seed of the candidate draw.
        identity: what makes the results comparable (e.g. ``{"supernet": sha256 of best.keras, "data": folder}``);
            recorded, and a project recorded with another one is refused.
        overwrite: start the budgets' projects over.

    Returns:
        A :class:`SearchResult`, or ``None`` in a distributed worker (the chief writes the results).
    """
    from keras_tuner.src.distribute import utils as dist_utils

    from kaudio.models.ofa import head_classes, ofa_space

    if population < 1:
        raise KaudioError(f"--population must be >= 1, got {population}")
    out_dir = Path(out_dir)
    space, classes = ofa_space(supernet), head_classes(supernet)
    worker = dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()
    scorer = CandidateScorer(supernet, val_ds, calibration, report)
    settings = {"identity": dict(identity or {}), "calibration_batches": calibration_batches if calibration else 0,
                "population": population, "seed": seed}
    plans = [(budget, in_budget(space, classes, budget)) for budget in budgets]  # every budget checked first
    for budget, candidates in plans:
        project = out_dir / budget.folder
        recorded = {**settings, "params": budget.params, "epsilon": budget.epsilon}
        _check_project(project, recorded, overwrite and not worker)
        chosen = draw_population(candidates, population, seed)
        note = f"all {len(candidates)} in the budget" if len(candidates) <= population else \
            f"{population} of {len(candidates)} in the budget"
        report(f"search {budget.describe()}: {len(chosen)} candidates ({note})")
        oracle = BudgetOracle(space, [config for config, _ in chosen], seed=seed + 1)
        tuner = CandidateTuner(oracle, space, scorer, directory=str(out_dir), project_name=budget.folder,
                               overwrite=overwrite and not worker)
        _write_json(project / SETTINGS_FILE, recorded)
        scorer.prefix = f"  [{budget.label}] "
        try:
            tuner.search(verbose=0)
        except keras_tuner.errors.FatalError as err:
            raise KaudioError(str(err)) from err
        if not worker:
            _record_budget(tuner, budget, scorer, out_dir, recorded, len(candidates))
    if worker:
        return None
    return write_summary(out_dir)


def _check_project(project: Path, recorded: dict, overwrite: bool) -> None:
    """Refuse a project folder made by another search (module docstring)."""
    if overwrite or not project.exists() or not any(project.iterdir()):
        return
    settings_file = project / SETTINGS_FILE
    try:
        found = json.loads(settings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise KaudioError(f"{project} exists but was not written by kaudio ofa search (no readable {SETTINGS_FILE}); "
                          "remove it or give --overwrite") from None
    differences = [(key, old, new) for key, old, new in _differences(found, json.loads(json.dumps(recorded)))
                   if not (key == "population" and isinstance(old, int) and new >= old)]  # more: the same draw, longer
    if differences:
        what = "another supernet" if any(key.startswith("identity.supernet") for key, _, _ in differences) \
            else "other settings"
        shown = "; ".join(f"{key}: {old!r} there, {new!r} now" for key, old, new in differences[:4])
        raise KaudioError(f"{project} holds a search of {what} ({shown}); its trials cannot be mixed with this "
                          "search: give --overwrite to search again, or another --out")


def _differences(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [item for key in sorted(set(old) | set(new))
                for item in _differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [(prefix.rstrip("."), old, new)]


def _record_budget(tuner, budget: Budget, scorer: CandidateScorer, out_dir: Path, settings: dict,
                   in_budget_count: int) -> None:
    """``candidates.json`` of the budget, and its best configuration as ``best_<N>.yaml`` / ``.keras``."""
    space = scorer.space
    rows = []
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
        if trial.status != keras_tuner.engine.trial.TrialStatus.COMPLETED or trial.score is None:
            continue
        config = config_from_values(space, trial.hyperparameters.values)
        rows.append({"trial": trial.trial_id, "config": config,
                     "trainable_params": space.count_params(config, scorer.classes).trainable,
                     OBJECTIVE: float(trial.score)})
    if not rows:
        raise KaudioError(f"no candidate of {budget.describe()} could be scored (see {out_dir / budget.folder})")
    best = max(rows, key=lambda row: row[OBJECTIVE])
    _write_json(out_dir / budget.folder / CANDIDATES_FILE,
                {"params": budget.params, "epsilon": budget.epsilon, "label": budget.label,
                 "in_budget": in_budget_count, "population": settings["population"],
                 "calibration_batches": settings["calibration_batches"], "best": best, "candidates": rows})
    label = config_label(best["config"])
    calibration = (f"BN re-calibrated on {settings['calibration_batches']} training batches"
                   if settings["calibration_batches"] else "BN statistics of the supernet, not re-calibrated")
    again = (f" --data DIR --calibration-batches {settings['calibration_batches']} --seed {settings['seed']}"
             if settings["calibration_batches"] else "")
    (out_dir / f"best_{budget.label}.yaml").write_text(
        f"# kaudio ofa search: the best of {len(rows)} sub-networks with {budget.describe()}\n"
        f"# {label}: {best['trainable_params']:,} trainable parameters, validation mAP {best[OBJECTIVE]:.4f} "
        f"({calibration})\n# best_{budget.label}.keras is that model; the same again: kaudio ofa extract RUN "
        f"{out_dir.name}/best_{budget.label}.yaml --out small.keras{again}\n" + json.dumps({key: best["config"][key] for key in ("widths", "depths", "fc_width")}) + "\n",
        encoding="utf-8")
    scorer.model(best["config"]).save(out_dir / f"best_{budget.label}.keras")


def write_summary(out_dir: "str | os.PathLike") -> SearchResult:
    """``summary.json`` and ``summary.md`` of every budget searched in ``out_dir`` (all ``params_*/candidates.json``),
    smallest budget first."""
    out_dir = Path(out_dir)
    entries = {}
    for path in out_dir.glob(f"params_*/{CANDIDATES_FILE}"):
        data = json.loads(path.read_text(encoding="utf-8"))
        values = np.array([row[OBJECTIVE] for row in data["candidates"]])
        data["val_map_mean"], data["val_map_std"] = float(values.mean()), float(values.std())
        data["val_map_min"] = float(values.min())
        entries[data["label"]] = data
    entries = dict(sorted(entries.items(), key=lambda item: item[1]["params"]))
    lines = ["| constraint | in budget | scored | best val mAP | mean ± std | min | trainable params | configuration |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for label, data in entries.items():
        best = data["best"]
        lines.append(f"| {label} ± {format_count(data['epsilon'])} | {data['in_budget']} | {len(data['candidates'])} | "
                     f"{best[OBJECTIVE]:.4f} | {data['val_map_mean']:.4f} ± {data['val_map_std']:.4f} | "
                     f"{data['val_map_min']:.4f} | {best['trainable_params']:,} | {config_label(best['config'])} |")
    markdown = "\n".join(lines) + "\n"
    _write_json(out_dir / "summary.json", {"constraints": list(entries.values())})
    (out_dir / "summary.md").write_text(markdown, encoding="utf-8")
    return SearchResult(entries, markdown, out_dir)


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    temporary.replace(path)
