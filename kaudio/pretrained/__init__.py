"""Pretrained weights: the manifest, the download cache, and loading weights into a backbone.

    from kaudio import pretrained
    path = pretrained.fetch("openl3_audio_mel256_music")        # downloaded once into the cache
    pretrained.load_backbone_weights(model.backbone, "openl3_audio_mel256_music")
    pretrained.load_backbone_weights(model.backbone, "openl3_audio_mel256_music.h5")   # or a file

The cache is ``$KAUDIO_HOME`` (default ``~/.cache/kaudio``); weights live in its ``weights/``.
"""
from kaudio.pretrained.cache import cache_dir, fetch, weights_dir
from kaudio.pretrained.loading import load_backbone_weights, weights_file_format
from kaudio.pretrained.manifest import WeightsEntry, find_entry, load_manifest, manifest_path

__all__ = ["WeightsEntry", "cache_dir", "fetch", "find_entry", "load_backbone_weights", "load_manifest",
           "manifest_path", "weights_dir", "weights_file_format"]
