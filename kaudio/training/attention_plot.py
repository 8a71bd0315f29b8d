"""Fig. 4-style picture of the ResAtt head (Zhong et al., Fig. 4, Eq. 1): the attention map W with
the clip's fine and coarse probabilities.

Layout: the map W (rows = fine tags, columns = coarse tags; softmax over the fine axis, so each
column sums to 1) as an image in the middle, the fine probabilities P_fine as horizontal bars on
the left (one per row), the coarse probabilities P_coarse = Wᵀ·P_fine as bars below (one per column).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from kaudio.errors import InputError


def plot_attention(attention, fine, coarse, fine_names: Sequence[str], coarse_names: Sequence[str],
                   path: "str | os.PathLike", title: str | None = None) -> Path:
    """Write the figure as a PNG and return its path.

    Args:
        attention: W, ``(N_fine, N_coarse)``.
        fine / coarse: probabilities ``(N_fine,)`` and ``(N_coarse,)``.
        fine_names / coarse_names: tag names in the hierarchy's order.
        path: the ``.png`` to write.
        title: optional figure title (e.g. the audio file name).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attention = np.asarray(attention, np.float64)
    fine, coarse = np.asarray(fine, np.float64).reshape(-1), np.asarray(coarse, np.float64).reshape(-1)
    n_fine, n_coarse = len(fine_names), len(coarse_names)
    if attention.shape != (n_fine, n_coarse):
        raise InputError(f"the attention map has shape {attention.shape}, expected ({n_fine}, {n_coarse}) "
                         "(fine tags × coarse tags)")
    if fine.shape != (n_fine,) or coarse.shape != (n_coarse,):
        raise InputError(f"expected {n_fine} fine and {n_coarse} coarse probabilities, got {fine.size} and {coarse.size}")

    height = 2.0 + 0.32 * n_fine
    width = 3.5 + 0.55 * n_coarse + 0.08 * max(len(n) for n in fine_names)
    fig = plt.figure(figsize=(max(width, 6.0), max(height, 4.0)))
    grid = fig.add_gridspec(2, 3, width_ratios=[2.0, max(n_coarse, 2) * 0.6, 0.25],
                            height_ratios=[max(n_fine, 2) * 0.32, 1.4], wspace=0.08, hspace=0.08)
    ax_map = fig.add_subplot(grid[0, 1])
    ax_fine = fig.add_subplot(grid[0, 0], sharey=ax_map)
    ax_coarse = fig.add_subplot(grid[1, 1], sharex=ax_map)
    ax_bar = fig.add_subplot(grid[0, 2])

    image = ax_map.imshow(attention, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(1e-6, attention.max()),
                          interpolation="nearest")
    ax_map.set_xticks(range(n_coarse))
    ax_map.set_yticks(range(n_fine))
    ax_map.tick_params(labelleft=False, labelbottom=False)
    ax_map.set_title("attention W (fine × coarse)", fontsize=9)
    fig.colorbar(image, cax=ax_bar)

    rows = np.arange(n_fine)
    ax_fine.barh(rows, fine, color="tab:blue")
    ax_fine.set_xlim(1.0, 0.0)  # bars grow towards the map
    ax_fine.set_yticks(rows)
    ax_fine.set_yticklabels(fine_names, fontsize=8)
    ax_fine.set_xlabel("P(fine)", fontsize=8)

    columns = np.arange(n_coarse)
    ax_coarse.bar(columns, coarse, color="tab:orange")
    ax_coarse.set_ylim(1.0, 0.0)  # bars hang below the map
    ax_coarse.set_xticks(columns)
    ax_coarse.set_xticklabels(coarse_names, rotation=45, ha="right", fontsize=8)
    ax_coarse.set_ylabel("P(coarse)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)

    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def attention_outputs(model, audio: np.ndarray) -> dict[str, np.ndarray]:
    """Run a ResAtt model that outputs ``"attention"`` on one clip ``(samples, ch)``; return the
    first example's ``{"attention", "fine", "coarse"}`` as numpy arrays."""
    batch = np.asarray(audio, np.float32)[None]
    out = model(batch, training=False)
    if not isinstance(out, dict) or "attention" not in out:
        raise InputError("the model does not output 'attention'; build the resatt head with output_attention: true")
    return {key: np.asarray(out[key])[0] for key in ("attention", "fine", "coarse")}
