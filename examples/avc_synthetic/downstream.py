"""The downstream protocol of Cramer et al. (kaudio.downstream) on the held-out labelled sounds, for
the embedding an AVC run learnt, the same network with random weights, and the log-mel baseline.

The run's audio tower is scaled down (avc_small.yaml), so no OpenL3 model name (what ``kaudio
downstream --model`` embeds with) has its architecture. The protocol's Python entry point takes any
feature extractor (``run_downstream(..., extractor=...)``): :class:`TowerFeatures` gives the
tower's embedding exactly as ``kaudio avc export`` defines it for the full-size models — the last
conv (``audio_embedding_layer``) *before* the tower's batch norm and ReLU, max-pooled over its whole
map (128-d here). Everything else — 1-s windows every 0.1 s, the per-fold MLP with its
learning-rate × weight-decay grid, clip accuracy per fold — is the protocol's. The three reports are
``kaudio downstream`` reports (``REPORT.json`` + ``.md``); the Wilcoxon signed-rank test over the
folds is ``kaudio downstream compare``'s (:func:`kaudio.downstream.compare_reports`).

Usage::

    python examples/avc_synthetic/downstream.py runs/avc_small data/avc_sounds --out results/
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


class TowerFeatures:
    """Windows → the AVC audio tower's embedding (before its final BN/ReLU, max-pooled)."""

    def __init__(self, model, label: str, weights: str, hop_size: float = 0.1, batch_size: int = 64):
        import keras

        from kaudio.embedding.framing import hop_samples

        tower = model.tower("audio")
        backbone = tower.get_layer("backbone")
        self.frontend = tower.get_layer("frontend")
        self.tap = keras.Model(backbone.input, backbone.get_layer("audio_embedding_layer").output)
        self.sample_rate = int(model.spec.towers["audio"]["input"]["sample_rate"])
        self.window = int(model.spec.towers["audio"]["input"]["samples"])
        self.hop_size, self.hop = hop_size, hop_samples(hop_size, self.sample_rate)
        self.label, self.weights, self.batch_size = label, weights, batch_size
        self.dimension = int(self.tap.output.shape[-1])

    def settings(self, dataset_root: Path):
        from kaudio.downstream.features import FeatureSettings

        return FeatureSettings(model=self.label, embedding_size=self.dimension,
                               frontend=f"avc_small audio tower ({self.sample_rate} Hz)", weights=self.weights,
                               hop_size=float(self.hop_size), center=False, mode="exact",
                               dataset=str(Path(dataset_root).resolve()))

    def compute(self, signals):
        from kaudio.downstream.features import uniform_windows

        out = []
        for signal in signals:
            windows = uniform_windows(np.asarray(signal, np.float32), self.window, self.hop)[..., None]
            parts = [np.max(np.asarray(self.tap(self.frontend(windows[i:i + self.batch_size]))), axis=(1, 2))
                     for i in range(0, len(windows), self.batch_size)]
            out.append(np.concatenate(parts).astype(np.float32))
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the AVC run folder (spec.yaml, best.keras)")
    parser.add_argument("sounds", type=Path, help="the labelled sounds (labels.csv: file,label,fold)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the reports")
    parser.add_argument("--jobs", type=int, default=1, help="fold worker processes")
    parser.add_argument("--grid", choices=("full", "quick"), default="full",
                        help="the MLP's learning-rate x weight-decay grid: full (the paper's 3 x 3) or quick (one "
                             "setting, lr 1e-3 and wd 1e-4: 9x cheaper)")
    args = parser.parse_args(argv)

    import keras

    from kaudio.downstream import LogMelFeatures, ProtocolSettings, compare_reports, run_downstream, write_report
    from kaudio.models.kaudio_model import KaudioModel
    from kaudio.spec import load_spec

    args.out.mkdir(parents=True, exist_ok=True)
    trained = keras.models.load_model(args.run / "best.keras")
    keras.utils.set_random_seed(0)
    random = KaudioModel(load_spec(args.run / "spec.yaml"))  # the same network, freshly initialised (seed 0)
    extractors = {
        "trained": TowerFeatures(trained, "avc_small_trained", str((args.run / "best.keras").resolve())),
        "random": TowerFeatures(random, "avc_small_random", "none (random, seed 0)"),
        "logmel": LogMelFeatures(),
    }
    reports = {}
    for name, extractor in extractors.items():
        path = args.out / f"{name}.json"
        if path.is_file():
            reports[name] = json.loads(path.read_text())
            continue
        print(f"downstream: {name} …", flush=True)
        reports[name] = run_downstream(args.sounds, extractor=extractor, cache=args.out / f"features_{name}",
                                       jobs=args.jobs, protocol=ProtocolSettings.from_grid(args.grid))
        write_report(reports[name], path)
        print(f"  {100 * reports[name]['accuracy']['mean']:.2f} % mean clip accuracy, "
              f"{reports[name]['seconds']:.0f} s", flush=True)
    lines = []
    for a, b in (("trained", "random"), ("trained", "logmel"), ("random", "logmel")):
        comparison = compare_reports(reports[a], reports[b], names=(a, b))
        lines += [f"## {a} vs {b}", "", comparison.markdown(), "```", comparison.text(), "```", ""]
    (args.out / "comparison.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
