"""Train the tiny AVC spec on two virtual CPU devices (MirroredStrategy) in a fresh process; the logical devices
must be set before TensorFlow initialises. Usage: python -m tests.training.avc_mirrored_worker VIDEOS RUN_DIR."""
import json
import sys


def main(videos: str, run_dir: str) -> int:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from kaudio.training.fit import fit, training_spec
    from kaudio.training.trainer import trainer_for
    from tests.training.avc_data import tiny_avc_spec

    spec = training_spec(tiny_avc_spec(epochs=1, distribution={"strategy": "mirrored",
                                                                 "devices": ["/cpu:0", "/cpu:1"]}))
    trainer = trainer_for(spec)
    data = trainer.load_data(videos)
    result = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=run_dir, verbose=0)
    replicas = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).num_replicas_in_sync
    print(json.dumps({"history": result.history, "replicas": replicas}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
