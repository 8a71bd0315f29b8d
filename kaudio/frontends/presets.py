"""Named front-end settings that reproduce published implementations: OpenL3 (``marl/openl3``
``openl3/models.py``, trained with kapre 0.1.4), PANNs (``qiuqiangkong/audioset_tagging_cnn``
``pytorch/models.py``, torchlibrosa) and 2APAE (``soham97/MTL_Weakly_labelled_audio_data``, whose
features are Kong's ``qiuqiangkong/sed_time_freq_segmentation`` ``utils/features.py``).

A preset supplies defaults; keys written in the spec override them.
"""
from __future__ import annotations

_OPENL3_COMMON = dict(hop_length=242, window="hann", decibel="openl3", db_amin=1e-10, db_top=80.0, layout="freq_time")

#: OpenL3 as trained (kapre 0.1.4, ``marl/openl3`` ``openl3/models.py`` at v0.3.1): the front end of
#: the released weights.
#: HTK mel of the *power* spectrum, square-rooted; TF "same" padding (982 zeros each side at 1 s).
OPENL3_MEL = dict(_OPENL3_COMMON, n_fft=2048, padding="same", spectrum_power=2.0, mel_scale="htk",
                  mel_norm="slaney", f_min=0.0, f_max=None, mel_exponent=0.5)

#: openl3 0.4.x with kapre ≥ 0.3 (``frontend="kapre"``): Slaney mel of the *magnitude*, 1964 zeros appended.
OPENL3_V04_MEL = dict(_OPENL3_COMMON, n_fft=2048, padding="end", spectrum_power=1.0, mel_scale="slaney",
                      mel_norm="slaney", f_min=0.0, f_max=None, mel_exponent=1.0)

#: OpenL3 linear spectrogram (identical with kapre 0.1.4 and openl3 0.4.x): |STFT|, n_fft 512, no padding.
OPENL3_LINEAR = dict(_OPENL3_COMMON, n_fft=512, padding="valid", spectrum_power=1.0)

_PANNS_COMMON = dict(window="hann", padding="center", pad_mode="reflect", spectrum_power=2.0, n_mels=64, f_min=50.0,
                     mel_scale="slaney", mel_norm="slaney", mel_exponent=1.0, decibel="power_to_db", db_amin=1e-10,
                     db_ref=1.0, db_top=None, layout="time_freq")

#: PANNs as released (Kong et al. 2020; ``pytorch/models.py`` with torchlibrosa): 32 kHz, periodic
#: Hann 1024, hop 320, centred with reflect padding, power spectrum, librosa Slaney mel 64 bands
#: 50–14000 Hz, 10·log10(max(x, 1e-10)) with no max subtraction and no floor; output (time, mel) as the CNNs read it.
PANNS_32K = dict(_PANNS_COMMON, n_fft=1024, win_length=1024, hop_length=320, f_max=14000.0)

#: The hierarchical-tagging paper's setting and PANNs' Cnn14_16k: 16 kHz, 32 ms window, 10 ms hop, 50–8000 Hz.
PANNS_16K = dict(_PANNS_COMMON, n_fft=512, win_length=512, hop_length=160, f_max=8000.0)

#: 2APAE (Deshmukh et al., "Multi-Task Learning for Interpretable Weakly Labelled Sound Event Detection",
#: §IV-C; the features of Kong et al.'s ``LogMelExtractor``): at 32 kHz, ``scipy.signal.spectrogram`` with a
#: *symmetric* Hamming window (``np.hamming(2048)``), nperseg 2048, hop 1024, no detrending, no centring or
#: padding (311 frames for 10 s), ``mode="magnitude"`` with scipy's density scaling at fs=1 (|FFT| / sqrt(Σw²));
#: librosa's Slaney mel (64 bands, 50 Hz to 16 kHz, Slaney norm) on that *magnitude*; natural log of
#: (mel + 1e-8); then every mel bin standardised with the training split's mean and std (the z-score the
#: reference applies in ``dataset.py``; identity until the trainer sets the statistics). Output (time, mel, 1).
DESHMUKH_2APAE = dict(n_fft=2048, win_length=2048, hop_length=1024, window="hamming", window_symmetric=True,
                      padding="valid", spectrum_scaling="window_energy", spectrum_power=1.0, n_mels=64, f_min=50.0,
                      f_max=16000.0, mel_scale="slaney", mel_norm="slaney", mel_exponent=1.0, decibel="log",
                      db_amin=1e-8, db_top=None, layout="time_freq", standardize=True)

MEL_PRESETS = {"openl3": OPENL3_MEL, "openl3_v04": OPENL3_V04_MEL, "panns_32k": PANNS_32K, "panns_16k": PANNS_16K,
               "2apae": DESHMUKH_2APAE}
LINEAR_PRESETS = {"openl3": OPENL3_LINEAR, "openl3_v04": OPENL3_LINEAR}
