"""Audio-visual correspondence (AVC) data: pairs of a 1-s audio window and a video frame from a
folder of videos, for L3-Net-style self-supervised training (Arandjelović & Zisserman 2017;
Cramer et al. 2019; the marl/l3embedding repository).

* :mod:`~kaudio.data.avc.videos` — find and probe the videos (:func:`scan_videos`);
* :mod:`~kaudio.data.avc.split` — the video-level train/val/test split, saved as JSON;
* :mod:`~kaudio.data.avc.decode` — frames by timestamp and audio windows, decoded on demand;
* :mod:`~kaudio.data.avc.sampling` — the pair protocol (:class:`AVCSettings`: ``frame``,
  ``negatives``, sizes), augmentation parameters, stream activations;
* :mod:`~kaudio.data.avc.augment` — colour augmentation in the graph, model input ranges;
* :mod:`~kaudio.data.avc.pipeline` — the ``tf.data`` pipeline (:func:`pair_dataset`);
* :mod:`~kaudio.data.avc.shards` — TFRecord shards (:func:`prepare_shards`, ``kaudio avc prepare``,
  :func:`read_shards`);
* :mod:`~kaudio.data.avc.source` — :func:`open_avc_data`: a videos folder or a shards folder,
  one ``dataset(split)`` for both; :func:`training_passes`: epochs of the endless training stream.

Nothing here imports TensorFlow until a dataset is built.
"""
from kaudio.data.avc.augment import AUDIO_KEY, TARGET_KEY, VISION_KEY
from kaudio.data.avc.pipeline import pair_dataset
from kaudio.data.avc.sampling import AVCSettings
from kaudio.data.avc.shards import PrepareInterrupted, ShardReport, prepare_shards, read_shards
from kaudio.data.avc.source import AVCShards, AVCVideos, open_avc_data, training_passes
from kaudio.data.avc.split import load_or_make_split, split_videos
from kaudio.data.avc.videos import VideoIndex, VideoInfo, scan_videos

__all__ = ["AUDIO_KEY", "AVCSettings", "AVCShards", "AVCVideos", "PrepareInterrupted", "ShardReport", "TARGET_KEY",
           "VISION_KEY", "VideoIndex", "VideoInfo", "load_or_make_split", "open_avc_data", "pair_dataset",
           "prepare_shards", "read_shards", "scan_videos", "split_videos", "training_passes"]
