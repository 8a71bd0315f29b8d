"""Fig. 3-style picture of a weakly labelled SED model on one clip (Deshmukh et al., "Multi-Task
Learning for Interpretable Weakly Labelled Sound Event Detection", §V-C, Fig. 3): what the network
reads, what its decoder rebuilds, where its attention looks and what it detects, with the clip's
strong labels underneath.

Seven panels, one above the other, on one time axis (seconds; frame t drawn from t · hop):

1. **input** — the log-mel the encoder reads, standardised per mel bin as the model sees it;
2. **reconstruction** — the auto-encoder's decoder output (2APAE; non-negative, as the reference's
   decoder ends with a ReLU); a head without a decoder (the pooling baselines) gets a panel saying so;
3. **class-wise map** — the 1×1 class convolution's output (T × F) for the shown classes, stacked
   along frequency (linear for ``sed_2apae``, sigmoid for the baselines' segmentation maps);
4. **mel attention** — step 1's weights over mel bins (Eq. 10, softmax over F), same classes;
5. **time attention** — step 2's weights over time (Eq. 14, softmax over T; ``sed_attention``: its
   attention pooling weights), one row per class;
6. **frame-level activity** — the ``frames`` output (2APAE: step 1's output v, Eq. 11; baselines:
   the class map's mean over frequency), one row per class; each row's label carries the clip
   probability;
7. **ground truth** — the clip's events from ``events.csv`` on the same rows (or a panel saying
   there are none to show).

Against the paper's figure: the paper shows the input, the decoder output, step 1's weights for
the two most probable classes (two panels), step 1's output, step 2's weights and the clip
probabilities. Here both classes' step-1 weights share panel 4, the class map they are computed
from is panel 3, the clip probabilities are written beside the class names, and the last panel is
the reference the paper's figure lacks. Values are raw — no thresholds — as in the paper ("we plot
the raw attention weights without applying any thresholds").

Classes shown: the caller's list, or the two most probable classes in the map panels (as the
paper) and the eight most probable plus every ground-truth class in the row panels.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kaudio.errors import InputError

#: Classes in panels 3–4 and in panels 5–7 when the caller names none.
MAP_CLASSES, ROW_CLASSES = 2, 8
PANELS = ("input", "reconstruction", "class map", "mel attention", "time attention", "frames", "ground truth")


def pick_classes(clip, names: Sequence[str], classes: Sequence[str] | None = None,
                 events: Iterable | None = None, maps: int = MAP_CLASSES, rows: int = ROW_CLASSES
                 ) -> tuple[list[int], list[int]]:
    """``(map classes, row classes)`` as indices into ``names``.

    ``classes`` (names) are used for both when given. Otherwise the ``maps`` most probable classes
    (by ``clip``) go to the map panels, and the ``rows`` most probable plus every class with an
    event in ``events`` (``(onset, offset, label)``) to the row panels, most probable first.
    """
    names = list(names)
    if classes:
        missing = [c for c in classes if c not in names]
        if missing:
            from kaudio.spec.schema import did_you_mean

            raise InputError(f"unknown class {missing[0]!r}{did_you_mean(missing[0], names)}")
        chosen = list(dict.fromkeys(names.index(c) for c in classes))
        return chosen, chosen
    order = [int(k) for k in np.argsort(-np.asarray(clip, np.float64), kind="stable")]
    truth = {names.index(e[2]) for e in (events or ()) if e[2] in names}
    row = [k for k in order if k in order[:rows] or k in truth]
    return order[:maps], row


def sed_outputs(model, audio: np.ndarray) -> dict[str, np.ndarray]:
    """Every array of the figure for one clip ``(samples, channels)`` through a SED model.

    Returns the first example's ``features`` (T, F) (the front end's output, standardised; the
    mean over channels), ``class_map`` (T, F, K) (the head's ``class_conv`` layer called on
    ``model.backbone(model.frontend(x))``), ``frames`` (T, K), ``clip`` (K,) and, when the model
    has them, ``reconstruction`` (T, F), ``mel_attention`` (T, F, K) and ``time_attention`` (T, K).
    A 2APAE head built without ``output_attention`` gets its attention maps by calling its
    ``two_step_attention`` layer on the class map.
    """
    frontend, head = getattr(model, "frontend", None), getattr(model, "head", None)
    if frontend is None or head is None:
        raise InputError("a SED model (front end → backbone → SED head) is needed")
    class_conv = next((layer for layer in getattr(head, "layers", ()) if layer.name == "class_conv"), None)
    if class_conv is None:
        raise InputError(f"the head {head.name!r} has no class convolution ('class_conv'): not a SED head")
    x = np.asarray(audio, np.float32)[None]
    if x.ndim == 2:
        x = x[..., None]
    features = frontend(x, training=False)
    class_map = class_conv(model.backbone(features, training=False))
    out = model(x, training=False)
    if not isinstance(out, dict) or "clip" not in out or "frames" not in out:
        raise InputError("the model does not output 'clip' and 'frames': not a SED model")

    def first(tensor) -> np.ndarray:
        return np.asarray(tensor, np.float32)[0]

    spectrogram = first(features).mean(axis=-1)
    if getattr(frontend, "settings", {}).get("layout") == "freq_time":
        spectrogram = spectrogram.T
    values = {"features": spectrogram, "class_map": first(class_map), "frames": first(out["frames"]),
              "clip": first(out["clip"])}
    if "reconstruction" in out:
        values["reconstruction"] = first(out["reconstruction"]).mean(axis=-1)
    for key in ("mel_attention", "time_attention"):
        if key in out:
            values[key] = first(out[key])
    if "mel_attention" not in values and any(layer.name == "two_step_attention" for layer in head.layers):
        _, _, mel_attention, time_attention = head.get_layer("two_step_attention")(class_map)
        values.update(mel_attention=first(mel_attention), time_attention=first(time_attention))
    return values


def _check_shapes(features, class_map, frames, clip, names, reconstruction, mel_attention, time_attention):
    if features.ndim != 2:
        raise InputError(f"features must be (frames, mel bins), got shape {features.shape}")
    if class_map.ndim != 3:
        raise InputError(f"the class map must be (frames, mel bins, classes), got shape {class_map.shape}")
    t, f, k = class_map.shape
    if len(names) != k or clip.shape != (k,):
        raise InputError(f"the class map has {k} classes, the clip probabilities {clip.size} and the names "
                         f"{len(names)}")
    if frames.shape != (t, k):
        raise InputError(f"frames must be (frames, classes) = ({t}, {k}) like the class map, got {frames.shape}")
    if mel_attention is not None and mel_attention.shape != (t, f, k):
        raise InputError(f"mel_attention must be {(t, f, k)} like the class map, got {mel_attention.shape}")
    if time_attention is not None and time_attention.shape != (t, k):
        raise InputError(f"time_attention must be {(t, k)}, got {time_attention.shape}")
    if reconstruction is not None and reconstruction.ndim != 2:
        raise InputError(f"the reconstruction must be (frames, mel bins), got shape {reconstruction.shape}")


def _array(value, squeeze_last: bool = False):
    if value is None:
        return None
    value = np.asarray(value, np.float64)
    if squeeze_last and value.ndim == 3 and value.shape[-1] == 1:
        value = value[..., 0]
    return value


def sed_figure(features, class_map, frames, clip, class_names: Sequence[str], *, reconstruction=None,
               mel_attention=None, time_attention=None, events=None, no_events: str | None = None,
               classes: Sequence[str] | None = None, frame_hop_s: float | None = None, head_type: str | None = None,
               title: str | None = None):
    """The seven-panel figure (module docstring) as a matplotlib ``Figure`` (Agg backend).

    Args:
        features: the standardised input log-mel ``(T_in, F)``.
        class_map: the class convolution's output ``(T, F, K)``.
        frames: frame-level activity ``(T, K)``; clip: clip probabilities ``(K,)``.
        class_names: the K class names in output order.
        reconstruction: the decoder output ``(T_in, F)`` (or ``(T_in, F, 1)``); ``None``: no decoder.
        mel_attention: ``(T, F, K)`` or ``None``; time_attention: ``(T, K)`` or ``None``.
        events: the clip's ground truth, ``(onset s, offset s, class name)`` items (an empty list: a
            clip where nothing happens); ``None``: no ground truth, ``no_events`` says why.
        classes: class names to show (default: the most probable, module docstring).
        frame_hop_s: seconds between input frames (the x axis is in seconds; ``None``: in input
            frames, and ``events`` cannot be drawn).
        head_type: the head's type, for the "no decoder" / "no attention" panels.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    features, reconstruction = _array(features), _array(reconstruction, squeeze_last=True)
    class_map, frames, clip = _array(class_map), _array(frames), _array(clip).reshape(-1)
    mel_attention, time_attention = _array(mel_attention), _array(time_attention)
    names = [str(n) for n in class_names]
    _check_shapes(features, class_map, frames, clip, names, reconstruction, mel_attention, time_attention)
    if events is not None and frame_hop_s is None:
        raise InputError("events are in seconds: give frame_hop_s to draw them")
    events = None if events is None else [(float(a), float(b), str(c)) for a, b, c in events]
    map_classes, row_classes = pick_classes(clip, names, classes, events)
    head = head_type or "this head"

    t_in, n_mels = features.shape
    hop = frame_hop_s if frame_hop_s is not None else 1.0
    end = t_in * hop
    n_maps, n_rows = len(map_classes), len(row_classes)
    rows_height, maps_height, blank = 0.35 + 0.2 * n_rows, 0.3 + 0.9 * n_maps, 0.6  # inches
    heights = [1.6, 1.6 if reconstruction is not None else blank, maps_height,
               maps_height if mel_attention is not None else blank,
               rows_height if time_attention is not None else blank, rows_height,
               rows_height if events is not None else blank]
    label_width = max(len(names[k]) for k in row_classes) + 6
    gap, top, bottom = 0.45, 0.3 + 0.3 * bool(title), 0.5  # inches between panels, above and below
    height = sum(heights) + gap * (len(PANELS) - 1) + top + bottom
    fig = plt.figure(figsize=(11.0, height))
    grid = fig.add_gridspec(len(PANELS), 1, height_ratios=heights, hspace=gap / float(np.mean(heights)),
                            left=min(0.03 + 0.0075 * label_width, 0.3), right=0.98, top=1.0 - top / height,
                            bottom=bottom / height)
    axes = [fig.add_subplot(grid[0])]
    axes += [fig.add_subplot(grid[i], sharex=axes[0]) for i in range(1, len(PANELS))]

    def titled(ax, text, values=None):
        if values is not None and np.size(values):
            text += f"  [{np.min(values):.3g} … {np.max(values):.3g}]"
        ax.set_title(text, fontsize=9, loc="left")

    def absent(ax, text):
        ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.35")
        ax.set_yticks([])
        ax.set_facecolor("0.96")

    def image(ax, values, cmap, vmin, vmax, rows_down=False):
        n = values.shape[0]
        extent = (0.0, end, n - 0.5, -0.5) if rows_down else (0.0, end, 0.0, n)
        ax.imshow(values, aspect="auto", origin="upper" if rows_down else "lower", cmap=cmap, vmin=vmin, vmax=vmax,
                  extent=extent, interpolation="nearest")

    def stacked(values, chosen):
        """Per-class (F, T) maps one above the other, the first class on top."""
        return np.concatenate([values[:, :, k].T for k in reversed(chosen)], axis=0)

    def label_maps(ax, chosen, bins):
        ax.set_yticks([bins * (i + 0.5) for i in range(len(chosen))])
        ax.set_yticklabels([names[k] for k in reversed(chosen)], fontsize=8)
        for i in range(1, len(chosen)):
            ax.axhline(bins * i, color="white", linewidth=1.0)

    def label_rows(ax):
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels([f"{names[k]} {clip[k]:.2f}" for k in row_classes], fontsize=7)

    # 1 input, 2 reconstruction (each on its own colour scale: the decoder ends with a ReLU, so it
    # cannot give the negative half of the z-scored input)
    image(axes[0], features.T, "magma", float(np.min(features)), float(np.max(features)))
    titled(axes[0], "1  input log-mel (standardised per mel bin, as the model sees it)", features)
    axes[0].set_ylabel("mel bin", fontsize=8)
    if reconstruction is None:
        absent(axes[1], f"no decoder: {head} has no reconstruction output")
        titled(axes[1], "2  reconstruction")
    else:
        image(axes[1], reconstruction.T, "magma", float(np.min(reconstruction)), float(np.max(reconstruction)))
        titled(axes[1], "2  reconstruction (decoder output of the standardised log-mel)", reconstruction)
        axes[1].set_ylabel("mel bin", fontsize=8)

    # 3 class map, 4 mel attention (per class, stacked)
    bins = class_map.shape[1]
    shown = stacked(class_map, map_classes)
    if np.min(shown) < 0:  # linear class convolution: centred diverging scale
        bound = max(float(np.max(np.abs(shown))), 1e-9)
        image(axes[2], shown, "RdBu_r", -bound, bound)
    else:
        image(axes[2], shown, "viridis", 0.0, max(1.0, float(np.max(shown))))
    label_maps(axes[2], map_classes, bins)
    titled(axes[2], "3  class-wise map (1×1 class convolution, T × F per class)", shown)
    if mel_attention is None:
        absent(axes[3], f"no mel attention: {head} pools the class map without attention over mel bins")
        titled(axes[3], "4  mel attention")
    else:
        shown = stacked(mel_attention, map_classes)
        image(axes[3], shown, "viridis", 0.0, max(float(np.max(shown)), 1e-9))
        label_maps(axes[3], map_classes, bins)
        titled(axes[3], "4  mel attention (step 1 weights, sum to 1 over mel bins)", shown)

    # 5 time attention, 6 frames, 7 ground truth (one row per class)
    if time_attention is None:
        absent(axes[4], f"no time attention: {head} pools over time without attention weights")
        titled(axes[4], "5  time attention")
    else:
        shown = time_attention[:, row_classes].T
        image(axes[4], shown, "viridis", 0.0, max(float(np.max(shown)), 1e-9), rows_down=True)
        label_rows(axes[4])
        titled(axes[4], "5  time attention (weights over time, sum to 1 per class)", shown)
    shown = frames[:, row_classes].T
    bounded = np.min(frames) >= 0 and np.max(frames) <= 1
    image(axes[5], shown, "viridis", 0.0 if bounded else float(np.min(shown)),
          1.0 if bounded else float(np.max(shown)), rows_down=True)
    label_rows(axes[5])
    titled(axes[5], "6  frame-level activity (frames output; labels: class, clip probability)", shown)

    ax = axes[6]
    if events is None:
        absent(ax, no_events or "no ground truth for this clip")
        titled(ax, "7  ground truth")
    else:
        index = {k: i for i, k in enumerate(row_classes)}
        hidden = 0
        for onset, offset, label in events:
            k = names.index(label) if label in names else None
            if k not in index:
                hidden += 1
                continue
            ax.broken_barh([(onset, offset - onset)], (index[k] - 0.35, 0.7), color="tab:green")
        ax.set_ylim(n_rows - 0.5, -0.5)
        label_rows(ax)
        ax.grid(axis="y", color="0.9")
        ax.set_axisbelow(True)
        note = f"{len(events)} event(s)" + (f", {hidden} of classes not shown" if hidden else "")
        titled(ax, f"7  ground truth (events.csv: {note})" if events else "7  ground truth (events.csv: no events)")
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    for ax in axes:
        ax.tick_params(labelsize=7)
    axes[0].set_xlim(0.0, end)
    axes[-1].set_xlabel("time (s)" if frame_hop_s is not None else "frame", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, y=1.0 - 0.1 / height, va="top")
    return fig


def plot_sed(path: "str | os.PathLike", features, class_map, frames, clip, class_names: Sequence[str],
             **options) -> Path:
    """Write :func:`sed_figure` (same arguments) as a PNG at ``path`` and return the path."""
    fig = sed_figure(features, class_map, frames, clip, class_names, **options)
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path
