"""The architecture space of a once-for-all supernet and its sub-network configurations
(Lin et al., "Weight-sharing supernet for searching specialized acoustic event classification
networks across device constraints", ICASSP 2023, §2.2).

The supernet ``w_o`` holds every sub-network; a configuration ``a`` selects one, ``S(w_o, a)`` in
Eq. 1 of Lin et al. (``min_{w_o} Σ_n Σ_i L(x_n, y_n; f_t, S(w_o, a_i))``). Blocks are PANNs conv
blocks (Kong et al. 2020, ``qiuqiangkong/audioset_tagging_cnn``): the first ``static_blocks`` are
fixed, every later ("dynamic") block has

* an elastic width — width ratio ``r`` from ``width_ratios`` (default {0.4, 0.6, 0.8, 1.0}): both
  convs of the block keep their first ⌊r·D⌋ channels;
* an elastic depth when listed in ``elastic_depth_blocks`` — 1 or 2 convs. The paper finds elastic
  depth on the last block only ("EW+ED=[2,2,X]") best, the default here;

and the fully connected layer fc1 (the embedding) has an elastic width too unless
``elastic_fc`` is false (⌊r·E⌋ units from the same ratios).

A configuration is plain data (YAML / JSON), one entry per dynamic block::

    {"widths": [0.4, 0.6, 1.0], "depths": [2, 2, 1], "fc_width": 0.4}

(``fc_width: null`` when the FC is not elastic; blocks without elastic depth take depth 2).
Block numbers in messages are the layer names' (``conv_block2`` is the first dynamic block of
CNN10's default layout; ``elastic_depth_blocks`` counts the same way, static blocks included).

:class:`OfaSpace` uses no TensorFlow: validation, enumeration, uniform sampling,
the integer encoding the graph-side setter uses (:meth:`OfaSpace.to_indices`,
:attr:`OfaSpace.choice_sizes`) and analytic parameter counts (:meth:`OfaSpace.count_params`).

Parameter counts (527 classes, CNN10 layout: static 64, dynamic 128/256/512, fc1 512), checked
against built models in the tests:

==========================  ====================  ========================
configuration               ``input_norm``        trainable parameters
==========================  ====================  ========================
largest (= PANNs CNN10)     ``per_mel_bin``       5,219,279
smallest, elastic FC        ``per_mel_bin``       569,210
largest                     ``single``            5,219,153
smallest, elastic FC        ``single``            569,084
smallest, fixed FC (512)    ``single``            794,540
==========================  ====================  ========================

PANNs CNN10's ``bn0`` normalises each of the 64 mel bins on its own (128 trainable parameters,
``per_mel_bin``, the default, so a trained ``panns_cnn`` CNN10 can initialise the supernet);
counting it as one γ/β pair (``single``) gives the 5,219,153 / 569,084 / 794,540 figures of a
CNN10-shaped reading of the paper, whose sub-networks span "0.6M to 5.2M" parameters (the
smallest fits an elastic FC). "Smallest" is r = 0.4 everywhere with the last block at depth 1.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from kaudio.errors import KaudioError

DEFAULT_WIDTH_RATIOS = (0.4, 0.6, 0.8, 1.0)
CONFIG_KEYS = ("widths", "depths", "fc_width")
MAX_DEPTH = 2
#: Ratios closer than this are the same choice (YAML / JSON floats, e.g. 0.6 vs 0.6000000001).
RATIO_TOLERANCE = 1e-9


def scaled_width(ratio: float, full: int) -> int:
    """⌊r·D⌋ (Lin et al. §2.2), robust to float error (0.29 · 100 is 28.999…, still 29 channels)."""
    return math.floor(ratio * full + RATIO_TOLERANCE)


@dataclass(frozen=True)
class ParamCounts:
    """Parameters of one sub-network as a plain model (what :func:`~kaudio.models.ofa.extract_subnet` builds).

    Attributes:
        trainable: weights and biases (what PANNs' ``count_parameters`` and the paper count).
        non_trainable: BatchNormalization moving means and variances.
    """

    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        """Keras ``model.count_params()`` of the extracted model (trainable + BN moving statistics)."""
        return self.trainable + self.non_trainable


@dataclass(frozen=True)
class Subnet:
    """A configuration resolved to layer sizes, every block included (static ones too).

    Attributes:
        filters: output channels of each block.
        convs: number of 3×3 convs of each block.
        embedding_size: units of fc1.
    """

    filters: tuple[int, ...]
    convs: tuple[int, ...]
    embedding_size: int


@dataclass(frozen=True)
class Choice:
    """One dimension of the space: its key path in a configuration and its options."""

    key: str
    options: tuple


class OfaSpace:
    """The sub-networks of an ``ofa_cnn`` supernet (module docstring).

    Args:
        filters: full channels of each block (CNN10: 64, 128, 256, 512).
        static_blocks: how many leading blocks are fixed (the rest are dynamic).
        width_ratios: the width choices r of every dynamic block (and of fc1 when elastic).
        elastic_depth_blocks: block numbers (1-based, as ``conv_block{i}``, static blocks counted) whose
            depth is 1 or 2; ``None``: the last block.
        elastic_fc: fc1's width is elastic too.
        embedding_size: fc1's full width.
        input_norm: ``"per_mel_bin"`` or ``"single"`` (bn0's parameters, for the counts).
        n_mels / channels: the input's mel bins and channels (bn0's parameters, for the counts).

    Raises:
        KaudioError: settings that give no valid space (see :func:`space_problems`).
    """

    def __init__(self, filters: Sequence[int], static_blocks: int = 1,
                 width_ratios: Sequence[float] = DEFAULT_WIDTH_RATIOS,
                 elastic_depth_blocks: Sequence[int] | None = None, elastic_fc: bool = True,
                 embedding_size: int = 512, input_norm: str = "per_mel_bin", n_mels: int = 64, channels: int = 1):
        if elastic_depth_blocks is None:
            elastic_depth_blocks = [len(filters)]
        problems = space_problems(filters, static_blocks, width_ratios, elastic_depth_blocks, elastic_fc,
                                  embedding_size)
        if problems:
            raise KaudioError("invalid once-for-all space: " + "; ".join(f"{key}: {message}" if key else message
                                                                          for key, message in problems))
        self.filters = tuple(int(f) for f in filters)
        self.static_blocks = int(static_blocks)
        self.width_ratios = tuple(sorted(float(r) for r in width_ratios))
        self.elastic_depth_blocks = tuple(sorted(int(b) for b in elastic_depth_blocks))
        self.elastic_fc = bool(elastic_fc)
        self.embedding_size = int(embedding_size)
        self.input_norm = input_norm
        self.n_mels = int(n_mels)
        self.channels = int(channels)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], feature_shape: Sequence[int | None]) -> "OfaSpace":
        """The space of an ``ofa_cnn`` backbone section (validated params) on a ``(time, mel, channels)`` input."""
        keys = ("filters", "static_blocks", "width_ratios", "elastic_depth_blocks", "elastic_fc", "embedding_size",
                "input_norm")
        return cls(**{key: params[key] for key in keys if key in params}, n_mels=feature_shape[1],
                   channels=feature_shape[2])

    # --- the choices --------------------------------------------------------------------------

    @property
    def dynamic_blocks(self) -> tuple[int, ...]:
        """Block numbers (1-based) of the dynamic blocks."""
        return tuple(range(self.static_blocks + 1, len(self.filters) + 1))

    def block_widths(self, block: int) -> tuple[int, ...]:
        """The channel choices of dynamic block ``block`` (1-based), in ratio order."""
        return tuple(scaled_width(r, self.filters[block - 1]) for r in self.width_ratios)

    @property
    def fc_widths(self) -> tuple[int, ...]:
        """fc1's unit choices (one when the FC is not elastic)."""
        if not self.elastic_fc:
            return (self.embedding_size,)
        return tuple(scaled_width(r, self.embedding_size) for r in self.width_ratios)

    @property
    def choices(self) -> tuple[Choice, ...]:
        """Every dimension of the space in index order: the widths of the dynamic blocks, the depths of the
        depth-elastic ones, then fc1's width (when elastic)."""
        found = [Choice(f"widths[{i}]", self.width_ratios) for i in range(len(self.dynamic_blocks))]
        found += [Choice(f"depths[{self.dynamic_blocks.index(b)}]", tuple(range(1, MAX_DEPTH + 1)))
                  for b in self.elastic_depth_blocks]
        if self.elastic_fc:
            found.append(Choice("fc_width", self.width_ratios))
        return tuple(found)

    @property
    def choice_sizes(self) -> tuple[int, ...]:
        """The number of options of each choice (index vectors hold ``0 <= i < size``)."""
        return tuple(len(choice.options) for choice in self.choices)

    @property
    def size(self) -> int:
        """The number of configurations (sub-networks)."""
        return math.prod(self.choice_sizes)

    def describe(self) -> dict[str, Any]:
        """The space as plain data (what ``kaudio ofa space --json`` prints besides the counts)."""
        return {"filters": list(self.filters), "static_blocks": self.static_blocks,
                "dynamic_blocks": [f"conv_block{b}" for b in self.dynamic_blocks],
                "width_ratios": list(self.width_ratios),
                "block_widths": {f"conv_block{b}": list(self.block_widths(b)) for b in self.dynamic_blocks},
                "elastic_depth_blocks": [f"conv_block{b}" for b in self.elastic_depth_blocks],
                "elastic_fc": self.elastic_fc, "fc_widths": list(self.fc_widths), "size": self.size}

    # --- configurations -----------------------------------------------------------------------

    def from_indices(self, indices: Sequence[int]) -> dict[str, Any]:
        """The configuration of an index vector (one index per :attr:`choices` entry)."""
        indices = [int(i) for i in indices]
        sizes = self.choice_sizes
        if len(indices) != len(sizes) or any(not 0 <= i < n for i, n in zip(indices, sizes)):
            raise KaudioError(f"expected {len(sizes)} choice indices with 0 <= index < {list(sizes)}, got {indices}")
        n_dynamic = len(self.dynamic_blocks)
        widths = [self.width_ratios[i] for i in indices[:n_dynamic]]
        depths = [MAX_DEPTH] * n_dynamic
        for block, i in zip(self.elastic_depth_blocks, indices[n_dynamic:]):
            depths[self.dynamic_blocks.index(block)] = i + 1
        fc_width = self.width_ratios[indices[-1]] if self.elastic_fc else None
        return {"widths": widths, "depths": depths, "fc_width": fc_width}

    def to_indices(self, config: Mapping[str, Any]) -> list[int]:
        """The index vector of a configuration (validated first); inverse of :meth:`from_indices`."""
        config = self.validate(config)
        indices = [self.width_ratios.index(r) for r in config["widths"]]
        indices += [config["depths"][self.dynamic_blocks.index(b)] - 1 for b in self.elastic_depth_blocks]
        if self.elastic_fc:
            indices.append(self.width_ratios.index(config["fc_width"]))
        return indices

    def configs(self) -> Iterator[dict[str, Any]]:
        """Every configuration, in index order (the last choice varies fastest)."""
        for indices in itertools.product(*(range(n) for n in self.choice_sizes)):
            yield self.from_indices(indices)

    def largest(self) -> dict[str, Any]:
        """Every width at its largest ratio, every depth 2: the full supernet."""
        return self.from_indices([n - 1 for n in self.choice_sizes])

    def smallest(self) -> dict[str, Any]:
        """Every width at its smallest ratio, every elastic depth 1."""
        return self.from_indices([0] * len(self.choice_sizes))

    def sample(self, rng: "random.Random | Any | int | None" = None) -> dict[str, Any]:
        """A configuration drawn uniformly (each choice independently uniform: the space is their product).

        ``rng``: a ``random.Random``, a ``numpy.random.Generator`` (its ``integers``), a seed or ``None``."""
        if rng is None or isinstance(rng, int):
            rng = random.Random(rng)
        if hasattr(rng, "integers"):  # numpy Generator
            return self.from_indices([int(rng.integers(n)) for n in self.choice_sizes])
        return self.from_indices([rng.randrange(n) for n in self.choice_sizes])

    def validate(self, config: Any, source: str = "sub-network configuration") -> dict[str, Any]:
        """``config`` checked against the space and normalised (ratios as the space writes them).

        Raises:
            KaudioError: every problem — unknown or missing keys, a wrong number of blocks, a width not
                offered, a depth other than 1/2 or on a block without elastic depth, an FC width where the
                FC is fixed — each with the valid values.
        """
        if not isinstance(config, Mapping):
            raise KaudioError(f"{source}: expected a mapping like {json.dumps(self.largest())}, got "
                              f"{type(config).__name__} {config!r}")
        problems = []
        from kaudio.spec.schema import did_you_mean

        for key in config:
            if key not in CONFIG_KEYS:
                problems.append(f"unknown key {key!r}{did_you_mean(key, CONFIG_KEYS)} (valid keys: "
                                f"{', '.join(CONFIG_KEYS)})")
        problems += [f"missing key {key!r}" for key in CONFIG_KEYS if key not in config]
        out: dict[str, Any] = {}
        blocks = self.dynamic_blocks
        names = f"conv_block{blocks[0]}..conv_block{blocks[-1]}" if len(blocks) > 1 else f"conv_block{blocks[0]}"
        for key, check in (("widths", self._width_problem), ("depths", self._depth_problem)):
            if key not in config:
                continue
            values = config[key]
            if not isinstance(values, list) or len(values) != len(blocks):
                got = f"{len(values)} values" if isinstance(values, list) else repr(values)
                problems.append(f"{key}: expected a list of {len(blocks)} (one per dynamic block, {names}), got {got}")
                continue
            out[key] = []
            for i, (block, value) in enumerate(zip(blocks, values)):
                value, problem = check(block, value)
                out[key].append(value)
                if problem:
                    problems.append(f"{key}[{i}] (conv_block{block}): {problem}")
        if "fc_width" in config:
            out["fc_width"], problem = self._fc_problem(config["fc_width"])
            if problem:
                problems.append(f"fc_width: {problem}")
        if problems:
            raise KaudioError(f"{source} is not in this supernet's space: " + "; ".join(problems))
        return out

    def _ratio(self, value) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return next((r for r in self.width_ratios if abs(r - value) <= RATIO_TOLERANCE), None)

    def _valid_ratios(self) -> str:
        return ", ".join(f"{r:g}" for r in self.width_ratios)

    def _width_problem(self, block: int, value) -> tuple[Any, str | None]:
        ratio = self._ratio(value)
        if ratio is None:
            return value, f"width ratio {value!r} is not offered; valid: {self._valid_ratios()}"
        return ratio, None

    def _depth_problem(self, block: int, value) -> tuple[Any, str | None]:
        if block in self.elastic_depth_blocks:
            if isinstance(value, bool) or value not in range(1, MAX_DEPTH + 1):
                return value, f"depth {value!r} is not offered; valid: 1, 2"
            return int(value), None
        if isinstance(value, bool) or value != MAX_DEPTH:
            elastic = ", ".join(f"conv_block{b}" for b in self.elastic_depth_blocks) or "none"
            return value, f"depth {value!r}: this block has a fixed depth of 2 (elastic depth: {elastic})"
        return MAX_DEPTH, None

    def _fc_problem(self, value) -> tuple[Any, str | None]:
        if not self.elastic_fc:
            if value is None:
                return None, None
            return value, f"got {value!r}; this supernet's fc1 is not elastic (elastic_fc: false): give null"
        ratio = self._ratio(value)
        if ratio is None:
            return value, f"width ratio {value!r} is not offered; valid: {self._valid_ratios()}"
        return ratio, None

    # --- sizes ---------------------------------------------------------------------------------

    def resolve(self, config: Mapping[str, Any]) -> Subnet:
        """The layer sizes of a configuration (validated first)."""
        config = self.validate(config)
        filters, convs = list(self.filters), [MAX_DEPTH] * len(self.filters)
        for block, ratio, depth in zip(self.dynamic_blocks, config["widths"], config["depths"]):
            filters[block - 1] = scaled_width(ratio, self.filters[block - 1])
            convs[block - 1] = depth
        fc = scaled_width(config["fc_width"], self.embedding_size) if self.elastic_fc else self.embedding_size
        return Subnet(tuple(filters), tuple(convs), fc)

    def count_params(self, config: Mapping[str, Any], num_classes: int | None = None) -> ParamCounts:
        """The parameters of a sub-network in closed form (no model is built).

        bn0: 2 × (mel bins, or input channels for ``single``) trainable and as many moving statistics;
        each 3×3 conv without bias 9·C_in·C_out, its BN 2·C_out trainable + 2·C_out statistics; fc1
        C·E + E; a dense head (``tagger`` / ``classifier``) with ``num_classes`` E·K + K.

        Args:
            config: a configuration of this space.
            num_classes: the head's classes; ``None`` counts the backbone alone.
        """
        subnet = self.resolve(config)
        norm = self.n_mels if self.input_norm == "per_mel_bin" else self.channels
        trainable = stats = 2 * norm
        c_in = self.channels
        for width, convs in zip(subnet.filters, subnet.convs):
            for _ in range(convs):
                trainable += 9 * c_in * width + 2 * width
                stats += 2 * width
                c_in = width
        trainable += c_in * subnet.embedding_size + subnet.embedding_size
        if num_classes:
            trainable += subnet.embedding_size * num_classes + num_classes
        return ParamCounts(trainable, stats)


def space_problems(filters: Sequence[int], static_blocks: int, width_ratios: Sequence[float],
                   elastic_depth_blocks: Sequence[int], elastic_fc: bool, embedding_size: int) -> list[tuple[str, str]]:
    """``[(spec key, message)]`` for backbone settings that give no valid space: no dynamic block, ratios
    outside (0, 1] or repeated, two ratios giving one width (or 0 channels) for some block, and elastic depth
    on a block that is not dynamic."""
    problems = []
    n = len(filters)
    if not 0 <= static_blocks < n:
        problems.append(("static_blocks", f"got {static_blocks}; with {n} blocks (filters) give 0 to {n - 1} so at "
                                          "least one block is dynamic"))
        return problems
    ratios = sorted(width_ratios)
    if any(not 0 < r <= 1 for r in ratios):
        problems.append(("width_ratios", f"got {list(width_ratios)}; ratios must be in (0, 1]"))
        return problems
    if any(b - a <= RATIO_TOLERANCE for a, b in zip(ratios, ratios[1:])):
        problems.append(("width_ratios", f"got {list(width_ratios)}; each ratio may appear once"))
        return problems
    sizes = [(f"conv_block{b}", filters[b - 1]) for b in range(static_blocks + 1, n + 1)]
    if elastic_fc:
        sizes.append(("fc1", embedding_size))
    for name, full in sizes:
        widths = [scaled_width(r, full) for r in ratios]
        if widths[0] < 1 or len(set(widths)) < len(widths):
            problems.append(("width_ratios", f"ratios {', '.join(f'{r:g}' for r in ratios)} give {name} "
                                             f"(full width {full}) the widths {widths}; each must be >= 1 and "
                                             "distinct: use fewer ratios or a wider block"))
    dynamic = range(static_blocks + 1, n + 1)
    for i, block in enumerate(elastic_depth_blocks):
        if block not in dynamic:
            problems.append((f"elastic_depth_blocks[{i}]", f"got {block}; elastic depth needs a dynamic block: "
                                                           f"{', '.join(map(str, dynamic))} (conv_block numbers)"))
    if len(set(elastic_depth_blocks)) < len(elastic_depth_blocks):
        problems.append(("elastic_depth_blocks", f"got {list(elastic_depth_blocks)}; each block may appear once"))
    return problems


def load_config(ref: "str | os.PathLike | Mapping[str, Any]") -> tuple[Any, str]:
    """A configuration from a YAML / JSON file, an inline JSON / YAML string or a mapping.

    Returns ``(data, where)`` (``where`` names the file, for messages); validate it with
    :meth:`OfaSpace.validate`.

    Raises:
        KaudioError: a missing file or one that is not YAML / JSON.
    """
    if isinstance(ref, Mapping):
        return dict(ref), "sub-network configuration"
    import yaml

    text, where = str(ref), "inline configuration"
    if not text.lstrip().startswith("{"):
        path = Path(ref)
        if not path.is_file():
            raise KaudioError(f"no such configuration file {str(path)!r}; give a YAML/JSON file or an inline JSON "
                              'mapping like \'{"widths": [0.4, 0.6, 1.0], "depths": [2, 2, 1], "fc_width": 0.4}\'')
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        return yaml.safe_load(text), where  # YAML is a superset of JSON
    except yaml.YAMLError as err:
        raise KaudioError(f"{where}: not YAML/JSON: {err}".replace("\n", " ")) from err


_COUNT_SUFFIXES = {"k": 1_000, "m": 1_000_000}


def parse_count(text: "str | int | float", what: str = "parameter count") -> int:
    """A parameter count as written on a command line: ``1.8M``, ``800k``, ``1800000`` or ``1,800,000``.

    Raises:
        KaudioError: anything else, or a negative count."""
    raw = str(text).strip().replace(",", "").replace("_", "")
    scale = _COUNT_SUFFIXES.get(raw[-1:].lower(), 1)
    number = raw[:-1] if scale != 1 else raw
    try:
        value = float(number) * scale
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (number and number[0] in "+-"):
        raise KaudioError(f"{what}: expected a count like 1.8M, 800k or 1800000, got {str(text)!r}")
    return int(round(value))


def format_count(count: int, digits: int | None = None) -> str:
    """``1800000`` → ``1.8M``, ``800000`` → ``800k``, ``950`` → ``950``; exact unless ``digits`` (significant
    digits) is given (``569210`` → ``569k`` with 3)."""
    for suffix, scale in (("M", 1_000_000), ("k", 1_000)):
        if count >= scale:
            value = count / scale
            return (f"{value:.{digits}g}" if digits else f"{value:.6f}".rstrip("0").rstrip(".")) + suffix
    return str(int(count))
