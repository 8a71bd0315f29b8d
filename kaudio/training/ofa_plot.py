"""``kaudio ofa plot``: the accuracy/size trade-off of a once-for-all search (the Pareto view of Lin et al.,
"Weight-sharing supernet for searching specialized acoustic event classification networks across
device constraints", ICASSP 2023, Fig. 3-4).

One panel: every scored candidate of every budget (validation mAP against trainable parameters),
the chosen one per budget highlighted, each budget's band ``N ± ε`` shaded. With latencies a
second panel puts the same mAP against the TFLite float32 latency of one clip (batch 1, one
thread, median of ``runs`` calls after 3 warm-up calls; :mod:`kaudio.deploy.tflite`, the whole
model from the waveform, kapre's STFT transpose through TF Select) — of the chosen sub-networks
(their ``best_<N>.keras``) or of every candidate (extracted from the supernet; slower: a
conversion each). Latencies are cached in ``SEARCH_DIR/latency.json`` by configuration and
reused by later plots (they depend on the machine: measure on the target, or at least on an
idle CPU).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

from kaudio.errors import KaudioError
from kaudio.models.ofa.space import format_count
from kaudio.models.ofa.subnet import config_label

LATENCY_FILE = "latency.json"


def read_summary(search_dir: "str | Path") -> dict:
    """``summary.json`` of a search folder (:func:`kaudio.training.ofa_search.write_summary`)."""
    path = Path(search_dir) / "summary.json"
    if not path.is_file():
        raise KaudioError(f"{search_dir} has no summary.json: run `kaudio ofa search RUN --data DIR --params ...` "
                          "first (or give --search-dir)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise KaudioError(f"{path}: not a search summary ({err})") from err
    if not summary.get("constraints"):
        raise KaudioError(f"{path} lists no searched budget")
    return summary


def measure_latencies(search_dir: "str | Path", summary: dict, which: str = "chosen", runs: int = 20,
                      supernet: Callable | None = None, report: Callable[[str], None] = print) -> dict[str, float]:
    """``{config_label: median ms}`` of the chosen sub-networks (``which="chosen"``) or of every candidate
    (``"all"``); measured ones are cached in ``latency.json``. ``supernet()`` loads the supernet (only called
    when a candidate has no ``best_<N>.keras``)."""
    import keras

    from kaudio.deploy import tflite
    from kaudio.models.ofa import extract_subnet

    search_dir = Path(search_dir)
    cache_path = search_dir / LATENCY_FILE
    cache = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.is_file() else {}
    wanted = {}  # label -> (config, best file or None)
    for entry in summary["constraints"]:
        best = entry["best"]
        wanted[config_label(best["config"])] = (best["config"], search_dir / f"best_{entry['label']}.keras")
        if which == "all":
            for row in entry["candidates"]:
                wanted.setdefault(config_label(row["config"]), (row["config"], None))
    loaded = None
    for number, (label, (config, best_file)) in enumerate(wanted.items(), start=1):
        if label in cache and cache[label]["runs"] >= runs:
            continue
        if best_file is not None and best_file.is_file():
            model = keras.models.load_model(best_file)
        else:
            if supernet is None:
                raise KaudioError(f"{label} has no best_*.keras; the supernet is needed to extract it")
            loaded = loaded or supernet()
            model = extract_subnet(loaded, config)
        with tempfile.TemporaryDirectory(prefix="kaudio_latency_") as folder:
            path = Path(folder) / "model.tflite"
            tflite.convert(model, path, "float32", "waveform")
            latency = tflite.measure_latency(path, threads=1, runs=runs)
        cache[label] = {"config": config, "float32_ms": latency.median_ms, "min_ms": latency.min_ms, "runs": runs,
                        "threads": 1, "input": "waveform"}
        cache_path.write_text(json.dumps(cache, indent=1) + "\n", encoding="utf-8")
        report(f"  latency {number}/{len(wanted)} {label}: {latency.median_ms:.2f} ms per clip")
    return {label: cache[label]["float32_ms"] for label in wanted}


def pareto_figure(summary: dict, latencies: dict[str, float] | None = None):
    """The figure (module docstring) as a matplotlib ``Figure`` (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if latencies else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.5), squeeze=False)
    size_ax = axes[0][0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    largest = max(entry["params"] + entry["epsilon"] for entry in summary["constraints"])
    unit, scale = ("M", 1e6) if largest >= 1e6 else ("k", 1e3)
    for i, entry in enumerate(summary["constraints"]):
        color = colors[i % len(colors)]
        low, high = max(entry["params"] - entry["epsilon"], 0), entry["params"] + entry["epsilon"]
        size_ax.axvspan(low / scale, high / scale, color=color, alpha=0.12, lw=0)
        rows, best = entry["candidates"], entry["best"]
        size_ax.scatter([r["trainable_params"] / scale for r in rows], [r["val_map"] for r in rows], s=18,
                        color=color, alpha=0.6,
                        label=f"{entry['label']} ± {format_count(entry['epsilon'])}: {len(rows)} candidates")
        size_ax.scatter([best["trainable_params"] / scale], [best["val_map"]], s=160, marker="*", color=color,
                        edgecolors="black", linewidths=0.8, zorder=3)
        if latencies:
            lat_ax = axes[0][1]
            measured = [(latencies[config_label(r["config"])], r["val_map"]) for r in rows
                        if config_label(r["config"]) in latencies]
            if measured:
                lat_ax.scatter(*zip(*measured), s=18, color=color, alpha=0.6)
            lat_ax.scatter([latencies[config_label(best["config"])]], [best["val_map"]], s=160, marker="*",
                           color=color, edgecolors="black", linewidths=0.8, zorder=3, label=entry["label"])
    size_ax.set_xlabel(f"trainable parameters ({unit})")
    size_ax.set_ylabel("validation mAP")
    size_ax.set_title("candidates per budget (shaded), chosen: star")
    size_ax.grid(alpha=0.3)
    size_ax.legend(fontsize=8, loc="best")
    if latencies:
        lat_ax = axes[0][1]
        lat_ax.set_xlabel("TFLite float32 latency per clip (ms, 1 thread)")
        lat_ax.set_ylabel("validation mAP")
        lat_ax.set_title("latency of the measured sub-networks")
        lat_ax.grid(alpha=0.3)
        lat_ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_search(summary: dict, path: "str | Path", latencies: dict[str, float] | None = None) -> Path:
    """Write :func:`pareto_figure` to ``path`` (PNG)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = pareto_figure(summary, latencies)
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path
