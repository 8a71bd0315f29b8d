"""Pretrained weights: the manifest, the download cache, and loading weights into a backbone.

    from kaudio import pretrained
    path = pretrained.fetch("openl3_audio_mel256_music")        # downloaded once into the cache
    pretrained.load_backbone_weights(model.backbone, "openl3_audio_mel256_music")
    pretrained.load_backbone_weights(model.backbone, "openl3_audio_mel256_music.h5")   # or a file

The cache is ``$KAUDIO_HOME`` (default ``~/.cache/kaudio``); weights live in its ``weights/``: the
download as downloaded (``<file>.gz``), verified against the git blob SHA-1 (and sha256) pinned in
the manifest on every fetch, and the ``<file>`` unpacked from it (see :mod:`kaudio.pretrained.cache`).
"""
from kaudio.pretrained.cache import CachePaths, FileIds, cache_dir, cache_paths, fetch, file_ids, weights_dir
from kaudio.pretrained.loading import load_backbone_weights, weights_file_format
from kaudio.pretrained.manifest import WeightsEntry, find_entry, load_manifest, manifest_path

__all__ = ["CachePaths", "FileIds", "WeightsEntry", "cache_dir", "cache_paths", "fetch", "file_ids", "find_entry",
           "load_backbone_weights", "load_manifest", "manifest_path", "weights_dir", "weights_file_format"]
