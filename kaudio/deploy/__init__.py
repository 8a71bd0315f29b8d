"""Deployment: TensorFlow Lite export, its check against Keras and its CPU latency (:mod:`kaudio.deploy.tflite`)."""
