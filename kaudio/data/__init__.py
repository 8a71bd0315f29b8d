"""Datasets for training: labels.csv folders, OpenMIC-2018, tf.data pipelines (registry kind 'data')."""
