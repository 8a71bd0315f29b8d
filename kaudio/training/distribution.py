"""Distributed training on TensorFlow's engine: ``train.distribution`` → a ``tf.distribute`` strategy.

::

    train:
      distribution: {strategy: mirrored}                       # every local GPU (or the listed devices)
      distribution: {strategy: mirrored, devices: ["/cpu:0", "/cpu:1"]}
      distribution: {strategy: multi_worker}                   # cluster from the TF_CONFIG variable

* ``mirrored`` — :class:`tf.distribute.MirroredStrategy`: one replica per device of this
  machine, variables mirrored, gradients all-reduced; ``batch_size`` is the global batch, split
  evenly across the replicas (so batch normalisation sees ``batch_size / replicas`` examples per
  replica, as the L3 reference training did with 4 GPUs × 16).
* ``multi_worker`` — :class:`tf.distribute.MultiWorkerMirroredStrategy` over several machines
  (or processes); each process reads the cluster and its own role from ``TF_CONFIG``, as
  TensorFlow users expect::

      TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'

  Run the same ``kaudio train`` command on every worker with its own ``index``; worker 0 (the
  chief) writes the run folder, the others write to a temporary folder.

The model, its optimizer and the training wrapper are created inside ``strategy.scope()`` by
:func:`kaudio.fit`; Keras distributes the ``tf.data`` datasets itself.
"""
from __future__ import annotations

import json
import os
from typing import Any

from kaudio.errors import SpecError, SpecProblem

STRATEGIES = ("mirrored", "multi_worker")
KEYS = ("strategy", "devices")


def distribution_problems(section: Any) -> list[tuple[str, str]]:
    """Spec-time problems of a ``train.distribution`` mapping (``None`` is fine: one device)."""
    if section is None:
        return []
    from kaudio.spec.schema import did_you_mean

    problems = [(key, f"unknown key{did_you_mean(key, KEYS)} (valid keys: {', '.join(KEYS)})")
                for key in section if key not in KEYS]
    strategy = section.get("strategy")
    if strategy not in STRATEGIES:
        got = "missing" if strategy is None else repr(strategy)
        problems.append(("strategy", f"got {got}, expected one of {', '.join(STRATEGIES)}"
                                     f"{did_you_mean(strategy, STRATEGIES) if isinstance(strategy, str) else ''}"))
    devices = section.get("devices")
    if devices is not None:
        if strategy == "multi_worker":
            problems.append(("devices", "multi_worker takes its machines from TF_CONFIG; remove devices"))
        elif not isinstance(devices, list) or not devices or not all(isinstance(d, str) for d in devices):
            problems.append(("devices", f"expected a list of device names such as ['/gpu:0', '/gpu:1'], got {devices!r}"))
    return problems


def make_strategy(section: dict | None, source: str | None = None):
    """The ``tf.distribute`` strategy of a validated section, or ``None`` (one device).

    Raises:
        SpecError: the strategy cannot start here (a device that does not exist, no or a bad
            ``TF_CONFIG`` for multi_worker), with the YAML path ``train.distribution``.
    """
    if section is None:
        return None
    import tensorflow as tf

    def problem(key: str, message: str) -> SpecError:
        path = "train.distribution" + (f".{key}" if key else "")
        return SpecError([SpecProblem(path, message, source)], source)

    if section["strategy"] == "multi_worker":
        _check_tf_config(problem)
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except (ValueError, RuntimeError, tf.errors.OpError) as err:
            raise problem("strategy", f"cannot start MultiWorkerMirroredStrategy: {err}") from err
    devices = section.get("devices")
    if devices:
        visible = [device.name for device in tf.config.list_logical_devices()]
        known = {_device_key(name) for name in visible}
        missing = [device for device in devices if _device_key(device) not in known]
        if missing:
            raise problem("devices", f"no such device here: {', '.join(missing)} (visible: {', '.join(visible)})")
    try:
        return tf.distribute.MirroredStrategy(devices=devices)
    except (ValueError, RuntimeError) as err:
        raise problem("strategy", f"cannot start MirroredStrategy: {err}") from err


def _device_key(name: str) -> tuple:
    """``("CPU", 0)`` for "/cpu:0", "/device:CPU:0" or "/job:localhost/replica:0/task:0/device:CPU:0"."""
    import tensorflow as tf

    try:
        spec = tf.DeviceSpec.from_string(name)
    except ValueError:
        return (name, None)
    return ((spec.device_type or "").upper(), spec.device_index)


def _check_tf_config(problem) -> None:
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise problem("strategy", "multi_worker needs the cluster in the TF_CONFIG environment variable, e.g. "
                                  "TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
                                  "\"task\": {\"type\": \"worker\", \"index\": 0}}'")
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        if task["type"] not in ("worker", "chief") or not 0 <= int(task["index"]) < len(workers) + 1:
            raise ValueError(f"task {task} does not name one of the {len(workers)} workers")
    except (ValueError, KeyError, TypeError) as err:
        raise problem("strategy", f"TF_CONFIG is not a valid cluster description ({err}): {text}") from err


def is_chief(strategy) -> bool:
    """Whether this process writes the run folder (always, except on non-chief multi-worker workers)."""
    if strategy is None:
        return True
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)
