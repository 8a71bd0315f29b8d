"""openl3's framing rules, as a stream: 1-s windows, hop, centring, end padding, timestamps.

As ``get_audio_embedding`` in ``marl/openl3`` ``openl3/core.py`` does it:

* centring prepends half a window of zeros (24 000 samples at 48 kHz);
* a signal shorter than a window is zero-padded to one window; otherwise the fewest zeros are
  appended that make (length − window) a multiple of the hop;
* frame i covers samples [i·hop, i·hop + window) of the padded signal, so
  n = 1 if L' ≤ window else 1 + ⌈(L' − window)/hop⌉, with L' = length (+ window/2 if centred);
* hop = int(hop_size · sample_rate) (truncated) while timestamps are i · hop_size seconds.

:class:`StreamFramer` takes the signal in chunks of any size and yields windows as soon as they
are complete, so a one-hour file needs memory for one chunk plus one window, not the whole file.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np


def hop_samples(hop_size: float, sample_rate: int) -> int:
    return int(hop_size * sample_rate)


def window_count(length: int, window: int, hop: int, center: bool) -> int:
    """Number of windows openl3 produces for ``length`` samples (already at the model rate).

    Not to be confused with :func:`kaudio.layers.padding.frame_count`, the STFT frames of one window.
    """
    padded = length + (window // 2 if center else 0)
    if padded <= window:
        return 1
    return 1 + -(-(padded - window) // hop)


def padding_only_frames(length: int, window: int, hop: int, center: bool) -> int:
    """How many trailing frames hold no sample of the signal, only zero padding (hop longer than
    what is left of the signal: e.g. a 1-s clip at a 2-s hop, centred, gives a second frame of zeros)."""
    n = window_count(length, window, hop, center)
    signal_end = (window // 2 if center else 0) + length
    first_empty = -(-signal_end // hop)  # the first frame starting at or after the signal's end
    return max(0, n - first_empty)


def timestamps(n_frames: int, hop_size: float) -> np.ndarray:
    """Seconds: the window centres when centred, the window starts otherwise (openl3's rule)."""
    return np.arange(n_frames) * hop_size


class StreamFramer:
    """Cut a signal of known final ``length`` into openl3 windows, fed chunk by chunk.

    Args:
        length: samples the whole signal has (before centring / end padding).
        window: samples per window (48 000 for L3).
        hop: samples between window starts.
        center: prepend ``window // 2`` zeros.
    """

    def __init__(self, length: int, window: int, hop: int, center: bool):
        self.window, self.hop = window, hop
        self.n_frames = window_count(length, window, hop, center)
        self.lead = window // 2 if center else 0
        self.signal_end = self.lead + length  # samples of real signal in padded coordinates
        self.padded_length = window + (self.n_frames - 1) * hop
        self._buffer = np.zeros(self.lead, dtype=np.float32)
        self._buffer_start = 0  # padded-coordinate index of _buffer[0]
        self._received = self.lead
        self._next = 0  # next frame to emit

    def feed(self, samples: np.ndarray) -> Iterator[np.ndarray]:
        """Add samples; yield every window that is now complete (views into an internal buffer)."""
        room = self.signal_end - self._received
        samples = np.asarray(samples, dtype=np.float32)[: max(room, 0)]
        if samples.size:
            self._buffer = np.concatenate([self._buffer, samples])
            self._received += samples.size
        yield from self._emit()

    def finish(self) -> Iterator[np.ndarray]:
        """Zero-pad to the final padded length (also if the stream came up short) and yield the rest."""
        missing = self.padded_length - (self._buffer_start + self._buffer.size)
        if missing > 0:
            self._buffer = np.concatenate([self._buffer, np.zeros(missing, dtype=np.float32)])
        self._received = self.padded_length
        yield from self._emit()

    def _emit(self) -> Iterator[np.ndarray]:
        available = self._buffer_start + self._buffer.size
        while self._next < self.n_frames:
            start = self._next * self.hop
            if start + self.window > available:
                break
            offset = start - self._buffer_start
            yield self._buffer[offset: offset + self.window]
            self._next += 1
        # Drop samples no future window needs.
        keep_from = self._next * self.hop - self._buffer_start
        if keep_from > 0:
            self._buffer = self._buffer[keep_from:]
            self._buffer_start += keep_from
