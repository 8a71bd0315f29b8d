"""Datasets for hierarchical tagging (Zhong et al., ICASSP 2023): ``labels.csv`` folders, OpenMIC-2018, splits and
the ``tf.data`` pipeline.

* :func:`load_tagging_folder` — a folder of audio files + ``labels.csv`` → :class:`TaggingTable`;
* :func:`load_openmic` — the OpenMIC-2018 release layout → :class:`TaggingTable`;
* :func:`split_indices` — train / val / test rows (iterative stratification when no val is given);
* :func:`make_dataset` — decode, resample, crop/pad, cache, batch, prefetch;
* :func:`mix_folder` — a weakly labelled sound event detection set mixed from event sounds and
  backgrounds (``kaudio mix``; Deshmukh et al., 2APAE);
* :func:`load_events` — the strong labels of a folder (``events.csv``) → :class:`EventTable`.
"""
from kaudio.data.events import Event, EventTable, load_events
from kaudio.data.labels_csv import LabelsError, TaggingTable, load_tagging_folder
from kaudio.data.mixing import MixReport, MixSettings, mix_folder
from kaudio.data.openmic import load_openmic
from kaudio.data.pipeline import data_error, load_audio, make_dataset
from kaudio.data.split import split_indices

__all__ = ["Event", "EventTable", "LabelsError", "MixReport", "MixSettings", "TaggingTable", "data_error", "load_audio",
           "load_events", "load_openmic", "load_tagging_folder", "make_dataset", "mix_folder", "split_indices"]
