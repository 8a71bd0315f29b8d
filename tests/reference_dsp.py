"""Independent float64 numpy implementations used as ground truth by the front-end tests.

Written from the textbook definitions (not from librosa or kapre): periodic Hann STFT, HTK and
Slaney mel scales with Slaney area normalisation, OpenL3's magnitude-to-dB.
"""
import numpy as np


def stft_magnitude(x, n_fft, hop, pad_before=0, pad_after=0):
    x = np.pad(np.asarray(x, dtype=np.float64), (pad_before, pad_after))
    n = 1 + (len(x) - n_fft) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = np.stack([x[i * hop: i * hop + n_fft] * window for i in range(n)])
    return np.abs(np.fft.rfft(frames, axis=1))  # (frames, n_fft//2 + 1)


def hz_to_mel(f, htk):
    f = np.asarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    mel = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, mel)


def mel_to_hz(m, htk):
    m = np.asarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_matrix(sr, n_fft, n_mels, f_min, f_max, htk):
    """(n_fft//2 + 1, n_mels) triangular filters with Slaney area normalisation."""
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min, htk), hz_to_mel(f_max, htk), n_mels + 2), htk)
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        rising = (fft_freqs - lo) / (mid - lo)
        falling = (hi - fft_freqs) / (hi - mid)
        weights[i] = np.maximum(0, np.minimum(rising, falling)) * (2.0 / (hi - lo))
    return weights.T


def openl3_db(x):
    y = 10 * np.log10(np.maximum(x, 1e-10))
    y -= y.max()
    return np.maximum(y, -80.0)
