"""Weakly labelled sound event detection: 2APAE's shared segmentation encoder (Deshmukh et al.;
``soham97/MTL_Weakly_labelled_audio_data``). Its heads — the two-step attention with the
auto-encoder's decoder, and the GAP / GMP / GWRP / attention baselines — are in :mod:`kaudio.heads.sed`."""
from kaudio.models.sed.seg_encoder import SegmentationEncoder, segmentation_block, zero_padded_average_pool

__all__ = ["SegmentationEncoder", "segmentation_block", "zero_padded_average_pool"]
