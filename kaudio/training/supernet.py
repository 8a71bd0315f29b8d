"""The once-for-all training wrapper: per batch, one teacher pass and K sampled sub-networks
distilled from it, one optimizer step (:class:`SupernetDistillationModel`).

Eq. 2 of Lin et al., "Weight-sharing supernet for searching specialized acoustic event
classification networks across device constraints" (ICASSP 2023, §2.3), approximates Eq. 1's
sum over all M sub-networks by K uniformly sampled ones per batch::

    Σ_n Σ_{i=1..K} BCE(f_s^i(x_n), f_t(x_n))

One training step (``train_step``; the configurations are variable values, so one trace serves
every sub-network):

1. the teacher's probabilities on the clean batch, once (:meth:`DistillationModel.loss_targets`);
2. the student's front end and SpecAugment, once: the K sub-networks see the same distorted
   spectrogram. Eq. 2 sums over i for the same ``x_n``, and Fig. 1 distorts "students' inputs"
   without saying whether per student; one draw per step keeps the sub-networks' losses
   comparable within a step and computes the front end once (SpecAugment masks are redrawn every step);
3. K index vectors drawn uniformly in the graph from a stateless seed ``(train.seed, step)``
   (:func:`~kaudio.models.ofa.indices_from_uniform`), so the configurations of step t do not
   depend on how the run got there — a resumed run samples exactly what the interrupted one
   would have (a ``keras.random.SeedGenerator``'s state is not part of the weights that
   ``BackupAndRestore`` saves, so it would restart its stream);
4. for each (unrolled: K forwards in the graph): :func:`~kaudio.models.ofa.set_subnet_indices`,
   backbone → head, the distillation loss (:class:`~kaudio.training.distillation.DistillationLoss`);
5. the gradient of the **mean** of the K losses, applied once. The paper writes a sum; with Adam
   (the paper's optimizer) the update is invariant to a constant factor of the loss (up to ε), and
   the mean keeps the logged ``loss`` on the scale of one network's distillation loss — comparable
   with ``val_loss``, with a ``kd`` run and across K.

Warm phase (§3.3: "we first only train the largest sub-network for 100K iterations, then train
the sampled sub-networks for 200K"): while the optimizer's step is below
``warmup_largest_steps`` the step trains the largest network alone — one forward, not K. The
phase is part of the trace (:meth:`SupernetDistillationModel.sync_phase` retraces once when it
ends; a resumed run reads it from the restored step counter). ``sandwich=True`` adds the largest
network to the K sampled ones every step (K + 1 forwards; the "sandwich rule" of Yu and Huang,
"Universally Slimmable Networks and Improved Training Techniques", ICCV 2019, without its
smallest network; off by default: the paper samples uniformly only).

Logs: ``loss``, ``kd_bce`` (and ``bce`` against the labels) as the mean over the step's
sub-networks, and ``kd_bce_q<g>_<lo>-<hi>``: the mean distillation BCE of the sampled sub-networks whose
trainable parameters lie in that range — the space's configurations cut into four groups of
(nearly) equal size by parameter count (:class:`SizeBuckets`, e.g. ``kd_bce_q1_569k-1.35M`` …
``kd_bce_q4_2.71M-5.22M`` for ``ofa_cnn10``); NaN in an epoch that sampled none (the warm phase
samples only the largest). Validation (``val_*``) scores the largest network.
"""
from __future__ import annotations

import keras
from keras import ops

from kaudio.models.ofa import head_classes, indices_from_uniform, ofa_space, set_subnet_indices
from kaudio.models.ofa.space import OfaSpace, format_count
from kaudio.training.distillation import DistillationLoss, DistillationModel
from kaudio.training.model import scale_for_replicas

#: Spaces with more configurations get no per-size logs (the size table would be too large to enumerate).
MAX_SIZE_TABLE = 1 << 16


class SizeBuckets:
    """The configurations of a space in ``count`` groups by trainable parameters, for per-size logs.

    Group edges are quantiles of the sizes over all configurations (uniform sampling fills each about
    equally); configurations of equal size share a group. ``names[g]`` is ``kd_bce_q<g+1>_<smallest>-<largest>``
    (sizes of group ``g``'s configurations; the number keeps the logs in size order); :meth:`of` maps index vectors to groups in the graph (a table over the mixed-radix
    index of every configuration). A space larger than :data:`MAX_SIZE_TABLE` gets no groups.
    """

    def __init__(self, space: OfaSpace, num_classes: int | None, count: int = 4, prefix: str = "kd_bce"):
        self.radix = [1] * len(space.choice_sizes)
        for i in range(len(self.radix) - 2, -1, -1):
            self.radix[i] = self.radix[i + 1] * space.choice_sizes[i + 1]
        self.names: list[str] = []
        self.table: list[int] = []
        if space.size > MAX_SIZE_TABLE:
            return
        sizes = [space.count_params(config, num_classes).trainable for config in space.configs()]
        ranked = sorted(sizes)
        edges = sorted({ranked[len(ranked) * g // count] for g in range(1, count)})
        groups = [sum(size >= edge for edge in edges) for size in sizes]
        used = sorted(set(groups))
        renumber = {g: i for i, g in enumerate(used)}
        self.table = [renumber[g] for g in groups]
        for number, g in enumerate(used, start=1):
            members = [size for size, group in zip(sizes, groups) if group == g]
            self.names.append(f"{prefix}_q{number}_{format_count(min(members), 3)}-{format_count(max(members), 3)}")

    def of(self, indices):
        """The group (int32) of an index vector (graph-safe)."""
        flat = ops.sum(ops.cast(indices, "int32") * ops.convert_to_tensor(self.radix, "int32"))
        return ops.take(ops.convert_to_tensor(self.table, "int32"), flat)


class MeanOrNan(keras.metrics.Mean):
    """A weighted mean that is NaN, not 0, when nothing was added (a size group no step of the epoch sampled)."""

    def result(self):
        return ops.where(self.count > 0, self.total / ops.maximum(self.count, 1e-12),
                         ops.convert_to_tensor(float("nan"), self.dtype))


class SupernetDistillationModel(DistillationModel):
    """Trains the once-for-all supernet ``model`` by distilling ``teacher`` into K sampled sub-networks per
    step (module docstring). TensorFlow backend (its train step uses ``tf.GradientTape``).

    Args:
        model: a :class:`~kaudio.models.KaudioModel` with an ``ofa_cnn`` backbone and a tagger head.
        teacher / loss / augment: as :class:`DistillationModel`.
        subnets_per_step: K.
        sandwich: also train the largest network every step.
        warmup_largest_steps: optimizer steps at the start that train the largest network only (settable until
            the train function is traced; the ``ofa`` trainer sets it from the run's length).
        seed: seed of the sub-network sampling (``train.seed``).
    """

    def __init__(self, model, teacher: keras.Model, loss: DistillationLoss, augment=None, subnets_per_step: int = 4,
                 sandwich: bool = False, warmup_largest_steps: int = 0, seed: int = 0, **kwargs):
        kwargs.setdefault("name", f"{model.name}_supernet_distillation")
        super().__init__(model, teacher, loss, augment, **kwargs)
        self.space = ofa_space(model)
        if int(subnets_per_step) < 1:
            raise ValueError(f"subnets_per_step must be >= 1, got {subnets_per_step}")
        self.subnets_per_step = int(subnets_per_step)
        self.sandwich = bool(sandwich)
        self.warmup_largest_steps = int(warmup_largest_steps)
        self.sample_seed = int(seed)
        self.largest_indices = tuple(self.space.to_indices(self.space.largest()))
        self.size_buckets = SizeBuckets(self.space, head_classes(model))
        self.bucket_trackers = {name: MeanOrNan(name=name) for name in self.size_buckets.names}
        self.warm_phase = self.warmup_largest_steps > 0  # of the traced train function; see sync_phase

    # --- the sub-networks of a step -----------------------------------------------------------

    def step_indices(self, step):
        """``(K [+1], choices)`` int32: the sub-networks step ``step`` trains after the warm phase (graph-safe;
        a function of ``(seed, step)`` only). With ``sandwich`` the largest comes first."""
        import tensorflow as tf

        seed = ops.stack([ops.convert_to_tensor(self.sample_seed, "int64"), ops.cast(step, "int64")])
        draw = tf.random.stateless_uniform((self.subnets_per_step, len(self.space.choice_sizes)), seed=seed)
        indices = indices_from_uniform(self.space, draw)
        if self.sandwich:
            indices = ops.concatenate([self._largest()[None], indices], axis=0)
        return indices

    def _largest(self):
        return ops.convert_to_tensor(self.largest_indices, "int32")

    def subnet_losses(self, features, targets, indices) -> tuple[dict, object, object]:
        """The mean loss parts over the sub-networks of ``indices`` ``(m, choices)`` (``m`` static) on ``features``
        (the front-end output), and per size group the sum and the number of their ``kd_bce``.

        The m forwards are unrolled: a ``tf.while_loop`` traces one forward only, but its steps measured 1.9× slower
        on the CPU (K = 4, CNN10; Grappler does not fuse inside loops), and a run traces a few times but steps
        thousands of times."""
        groups = len(self.bucket_trackers)
        sums = counts = ops.zeros((max(groups, 1),))
        total = None
        rows = int(indices.shape[0])
        for row in range(rows):
            set_subnet_indices(self.model, indices[row])  # ordered before the forward's reads of the variables
            y_pred = self.model.head(self.model.backbone(features, training=True), training=True)
            parts = {name: ops.cast(value, "float32") for name, value in self.task_loss.parts(targets, y_pred).items()}
            total = parts if total is None else {name: total[name] + value for name, value in parts.items()}
            if groups:
                hot = ops.one_hot(self.size_buckets.of(indices[row]), groups)
                sums, counts = sums + hot * parts["kd_bce"], counts + hot
        return {name: value / rows for name, value in total.items()}, sums, counts

    # --- the warm phase -----------------------------------------------------------------------

    def in_warm_phase(self) -> bool:
        """Whether the next step trains the largest network only (the optimizer's step count, eager)."""
        return int(self.optimizer.iterations.numpy()) < self.warmup_largest_steps

    def sync_phase(self) -> None:
        """Retrace the train function when the phase of the next step differs from the traced one. The phase is a
        Python value of the trace (one forward in the warm phase, K after it), so a run traces once more at the
        switch; a resumed run starts in its own phase."""
        warm = self.in_warm_phase()
        if warm != self.warm_phase:
            self.warm_phase = warm
            if not self.run_eagerly and self.train_function is not None:
                self.make_train_function(force=True)

    def fit(self, *args, callbacks=None, **kwargs):
        """Keras ``fit`` with the warm phase kept in sync (:class:`SyncWarmPhase`)."""
        return super().fit(*args, callbacks=[*(callbacks or []), SyncWarmPhase()], **kwargs)  # after a restore

    def train_on_batch(self, *args, **kwargs):
        if self.optimizer is not None:
            self.sync_phase()
        return super().train_on_batch(*args, **kwargs)

    # --- Keras steps --------------------------------------------------------------------------

    def train_step(self, data):
        import tensorflow as tf

        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if tf.executing_eagerly():
            self.warm_phase = self.in_warm_phase()
        targets = self.loss_targets(x, y)  # the teacher, once per step
        batch = ops.shape(x)[0]
        with tf.GradientTape() as tape:
            features = self.features(x, training=True)  # front end + SpecAugment, once per step
            indices = self._largest()[None] if self.warm_phase else self.step_indices(self.optimizer.iterations)
            parts, sums, counts = self.subnet_losses(features, targets, indices)
            loss = parts["loss"]
            if self.losses:  # regularisers of the wrapped model's layers
                loss = loss + ops.sum(ops.stack([ops.cast(value, "float32") for value in self.losses]))
            scaled = self.optimizer.scale_loss(scale_for_replicas(loss))
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        self._loss_tracker.update_state(loss, sample_weight=batch)
        for name, tracker in self.part_trackers.items():
            tracker.update_state(parts[name], sample_weight=batch)
        for g, tracker in enumerate(self.bucket_trackers.values()):
            tracker.update_state(sums[g] / ops.maximum(counts[g], 1.0), sample_weight=counts[g])
        return self.get_metrics_result()

    def test_step(self, data):
        """The largest network on the validation batch (``val_loss``, ``val_kd_bce`` …); no per-size logs."""
        set_subnet_indices(self.model, self._largest())
        logs = super().test_step(data)
        return {name: value for name, value in logs.items() if name not in self.bucket_trackers}


class SyncWarmPhase(keras.callbacks.Callback):
    """Before every training batch: :meth:`SupernetDistillationModel.sync_phase` (a retrace when the warm phase
    ends, or when a resumed run starts after it). Added by the wrapper's ``fit``."""

    def on_train_begin(self, logs=None):
        self.model.sync_phase()

    def on_train_batch_begin(self, batch, logs=None):
        self.model.sync_phase()
