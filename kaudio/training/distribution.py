"""Distributed training on TensorFlow's engine: ``train.distribution`` → a ``tf.distribute`` strategy.

::

    train:
      distribution: {strategy: mirrored}                       # every local GPU (or the listed devices)
      distribution: {strategy: mirrored, devices: ["/cpu:0", "/cpu:1"]}
      distribution: {strategy: multi_worker}                   # cluster from the TF_CONFIG variable

* ``mirrored`` — :class:`tf.distribute.MirroredStrategy`: one replica per device of this
  machine, variables mirrored, gradients all-reduced (summed); ``batch_size`` is the global
  batch, split evenly across the replicas (so batch normalisation sees ``batch_size / replicas``
  examples per replica, as the L3 reference training did with 4 GPUs × 16).
* ``multi_worker`` — :class:`tf.distribute.MultiWorkerMirroredStrategy` over several machines
  (or processes); each process reads the cluster and its own role from ``TF_CONFIG``, as
  TensorFlow users expect::

      TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'

  Run the same ``kaudio train`` command on every worker with its own ``index``; worker 0 (the
  chief) writes the run folder, the others write to a private folder in their temporary
  directory (named after the run folder and the task, so that a resumed run finds its backup;
  removed when the run finishes). The strategy must be started before TensorFlow runs anything
  in the process: see :func:`make_strategy`.

The model, its optimizer and the training wrapper are created inside ``strategy.scope()`` by
:func:`kaudio.fit`; Keras distributes the ``tf.data`` datasets itself (with several workers,
each reads its share of every global batch: TensorFlow's automatic sharding by data).

Keras sums the replicas' gradients, so a trainer's ``compute_loss`` must return its replica's
loss divided by the number of replicas (``strategy.num_replicas_in_sync``), as Keras's own
losses do; the step's gradient is then the mean of the replicas' mean losses. With that, on
two virtual CPU devices and on two local worker processes, the loss curves and weights agree
with a one-device run up to float rounding when every replica gets the same number of
examples per step; they differ slightly when a last batch does not divide evenly or when
masked targets leave the replicas different numbers of known labels to average over.

References: TensorFlow's guides "Distributed training with TensorFlow"
(https://www.tensorflow.org/guide/distributed_training) and "Multi-worker training with Keras"
(https://www.tensorflow.org/tutorials/distribute/multi_worker_with_keras).
"""
from __future__ import annotations

import json
import os
from typing import Any

from kaudio.errors import KaudioError, SpecError, SpecProblem

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


#: Strategies started in this process, by section and TF_CONFIG: TensorFlow allows one
#: MultiWorkerMirroredStrategy per process, and ``kaudio.fit`` called again (``--seeds``, a resumed
#: run, the λ grid) reuses the one it started first.
_STARTED: dict[tuple[str, str | None], Any] = {}


def make_strategy(section: dict | None, source: str | None = None):
    """The ``tf.distribute`` strategy of a validated section, or ``None`` (one device).

    A strategy is started once per process and section; later calls (and :func:`kaudio.fit`)
    return the same object. ``multi_worker`` must start before TensorFlow runs its first
    operation in the process — MultiWorkerMirroredStrategy configures the collective ops of
    TensorFlow's runtime, which is only possible at program start (TensorFlow's "Multi-worker
    training with Keras" tutorial) — and building a ``tf.data`` dataset already runs operations.
    So call this function first, with the spec's ``train.distribution``::

        spec = kaudio.training.fit.training_spec("my_spec.yaml")
        make_strategy(spec.train.get("distribution"), spec.source)   # before any tf.data / model code
        train_ds, val_ds = ...
        kaudio.fit(spec, train_ds, val_ds, run_dir=...)              # reuses the strategy

    Raises:
        SpecError: the strategy cannot start here (a device that does not exist, no or a bad
            ``TF_CONFIG`` for multi_worker), with the YAML path ``train.distribution``.
        KaudioError: ``multi_worker`` asked for after TensorFlow already ran operations.
    """
    if section is None:
        return None
    key = (json.dumps(section, sort_keys=True, default=str),
           os.environ.get("TF_CONFIG") if section.get("strategy") == "multi_worker" else None)
    if key not in _STARTED:
        _STARTED[key] = _start(section, source)
    return _STARTED[key]


def _start(section: dict, source: str | None):
    import tensorflow as tf

    def problem(key: str, message: str) -> SpecError:
        path = "train.distribution" + (f".{key}" if key else "")
        return SpecError([SpecProblem(path, message, source)], source)

    if section["strategy"] == "multi_worker":
        _check_tf_config(problem)
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as err:
            if "program startup" in str(err):
                raise KaudioError(
                    "train.distribution: multi_worker must start before TensorFlow runs its first operation in "
                    "this process (building a tf.data dataset or a model counts); call "
                    "kaudio.training.distribution.make_strategy(spec.train['distribution']) first, then build "
                    "the datasets and call kaudio.fit") from err
            raise problem("strategy", f"cannot start MultiWorkerMirroredStrategy: {err}") from err
        except (ValueError, tf.errors.OpError) as err:
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


TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}\'')


def tf_config_problem(text: str | None) -> str | None:
    """What is wrong with a ``TF_CONFIG`` value for multi_worker training (``None``: nothing)."""
    if not text:
        return f"multi_worker needs the cluster in the TF_CONFIG environment variable, e.g. {TF_CONFIG_EXAMPLE}"
    try:
        config = json.loads(text)
    except ValueError as err:
        return f"TF_CONFIG is not JSON ({err}): {text}"
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        return f"TF_CONFIG has no \"cluster\" mapping of job name to addresses, e.g. {TF_CONFIG_EXAMPLE}; got {text}"
    cluster = config["cluster"]
    for job, addresses in cluster.items():
        if job not in ("chief", "worker"):
            return f"TF_CONFIG's cluster has a {job!r} job; multi_worker training takes \"worker\" (and \"chief\")"
        if not isinstance(addresses, list) or not addresses or not all(
                isinstance(a, str) and a.rpartition(":")[2].isdigit() and a.rpartition(":")[0] for a in addresses):
            return f"TF_CONFIG's cluster.{job} must be a list of \"host:port\" addresses, got {addresses!r}"
    if not cluster:
        return f"TF_CONFIG's cluster names no worker: {text}"
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        return (f"TF_CONFIG's task must name this process's job and index, e.g. \"task\": {{\"type\": \"worker\", "
                f"\"index\": 0}}, with the type one of {', '.join(cluster)}; got {task!r}")
    index = task.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        return (f"TF_CONFIG's task index must be 0..{len(cluster[task['type']]) - 1} (the position of this "
                f"process's address in cluster.{task['type']}); got {index!r}")
    return None


def _check_tf_config(problem) -> None:
    message = tf_config_problem(os.environ.get("TF_CONFIG"))
    if message:
        raise problem("strategy", message)


def is_chief(strategy) -> bool:
    """Whether this process writes the run folder (always, except on non-chief multi-worker workers)."""
    if strategy is None:
        return True
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)
