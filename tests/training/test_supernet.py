"""The supernet training step: K sampled sub-networks against their losses computed one by one, the warm phase,
sandwich, validation on the largest network, and the per-size log groups."""
import keras
import numpy as np
import pytest

from kaudio.models.ofa import active_config, set_subnet_indices, space_from_spec
from kaudio.spec import load_spec
from kaudio.training.fit import training_spec
from kaudio.training.supernet import MeanOrNan, SizeBuckets
from kaudio.training.trainer import trainer_for
from tests.models.ofa import tiny_ofa_spec
from tests.training.test_ofa import ofa_train_spec, write_tiny_teacher


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return write_tiny_teacher(tmp_path_factory.mktemp("supernet_teacher"))


def test_size_buckets_cut_the_space_into_quarters():
    space, classes = space_from_spec(load_spec(tiny_ofa_spec(num_classes=4)))
    buckets = SizeBuckets(space, classes)
    assert buckets.names == ["kd_bce_q1_3.04k-6.81k", "kd_bce_q2_6.82k-9.15k", "kd_bce_q3_9.16k-12.6k",
                             "kd_bce_q4_12.6k-24k"]
    groups = [int(buckets.of(space.to_indices(config))) for config in space.configs()]
    assert [groups.count(g) for g in range(4)] == [128, 128, 128, 128]
    sizes = [space.count_params(config, classes).trainable for config in space.configs()]
    assert max(s for s, g in zip(sizes, groups) if g == 0) < min(s for s, g in zip(sizes, groups) if g == 1)
    assert int(buckets.of(space.to_indices(space.largest()))) == 3
    metric = MeanOrNan()
    assert np.isnan(float(metric.result()))
    metric.update_state(2.0, sample_weight=0.0)
    assert np.isnan(float(metric.result()))
    metric.update_state(2.0, sample_weight=3.0)
    assert float(metric.result()) == 2.0


def eager_wrapper(spec, steps_per_epoch=5):
    """The run's wrapper, compiled like kaudio.fit does but eager (no trace: these tests call a few steps)."""
    trainer = trainer_for(training_spec(spec))
    model = trainer.build_model()
    wrapper = trainer.training_model(model)
    wrapper.compile(optimizer=trainer.optimizer(steps_per_epoch), run_eagerly=True)
    return trainer, wrapper


def batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, 16000, 1)) * 0.1).astype("float32")
    y = {"labels": (rng.random((n, 4)) < 0.5).astype("float32"), "labels_mask": np.ones((n, 4), "float32")}
    return x, y


def direct_losses(wrapper, x, y, rows):
    """The distillation loss of each configuration (index rows) computed on its own: set it, one forward."""
    targets = wrapper.loss_targets(x, y)
    losses = []
    for row in rows:
        set_subnet_indices(wrapper.model, row)
        losses.append(float(wrapper.task_loss.parts(targets, wrapper(x, training=True))["loss"]))
    return losses


def test_a_step_trains_the_mean_of_k_sampled_subnetworks(teacher):
    keras.utils.set_random_seed(0)
    _, wrapper = eager_wrapper(ofa_train_spec(teacher, dropout=False, warmup_largest_steps=0))
    x, y = batch()
    rows = np.asarray(wrapper.step_indices(0))
    assert rows.shape == (3, 5) and len({tuple(r) for r in rows}) == 3  # K = 3 distinct draws here
    assert (rows < np.asarray(wrapper.space.choice_sizes)).all()
    np.testing.assert_array_equal(rows, np.asarray(wrapper.step_indices(0)))  # a function of (seed, step)
    assert not np.array_equal(rows, np.asarray(wrapper.step_indices(1)))
    expected = direct_losses(wrapper, x, y, rows)
    before = [w.numpy().copy() for w in wrapper.model.trainable_weights]
    logs = wrapper.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(np.mean(expected), rel=1e-5)
    assert logs["kd_bce"] == pytest.approx(logs["loss"], rel=1e-6)  # distillation_weight 1: pure distillation
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, wrapper.model.trainable_weights))
    buckets = [logs[name] for name in wrapper.bucket_trackers]
    assert len(buckets) == 4 and sum(np.isfinite(buckets)) in (1, 2, 3)  # only the sampled sizes are logged
    sizes = [wrapper.space.count_params(wrapper.space.from_indices(r), 4).trainable for r in rows]
    assert sorted(sizes)[0] >= 3_044 and sorted(sizes)[-1] <= 24_044


def test_the_warm_phase_trains_the_largest_only(teacher):
    keras.utils.set_random_seed(0)
    _, wrapper = eager_wrapper(ofa_train_spec(teacher, dropout=False, warmup_largest_steps=1))
    x, y = batch()
    largest = [wrapper.largest_indices]
    expected = direct_losses(wrapper, x, y, largest)[0]
    logs = wrapper.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    names = list(wrapper.bucket_trackers)
    assert names[-1].startswith("kd_bce_q4_") and logs[names[-1]] == pytest.approx(expected, rel=1e-5)
    assert all(np.isnan(logs[name]) for name in names[:-1])
    rows = np.asarray(wrapper.step_indices(1))  # step 2: sampled again, K of them
    expected = direct_losses(wrapper, x, y, rows)
    wrapper.reset_metrics()  # train_on_batch keeps averaging over calls
    assert wrapper.train_on_batch(x, y, return_dict=True)["loss"] == pytest.approx(np.mean(expected), rel=1e-5)


def test_sandwich_adds_the_largest_every_step(teacher):
    keras.utils.set_random_seed(0)
    _, wrapper = eager_wrapper(ofa_train_spec(teacher, dropout=False, warmup_largest_steps=0, sandwich=True))
    rows = np.asarray(wrapper.step_indices(0))
    assert rows.shape == (4, 5) and list(rows[0]) == list(wrapper.largest_indices)
    x, y = batch()
    expected = direct_losses(wrapper, x, y, rows)
    assert wrapper.train_on_batch(x, y, return_dict=True)["loss"] == pytest.approx(np.mean(expected), rel=1e-5)


def test_validation_scores_the_largest_and_leaves_it_active(teacher):
    keras.utils.set_random_seed(0)
    trainer, wrapper = eager_wrapper(ofa_train_spec(teacher, dropout=False))
    x, y = batch()
    set_subnet_indices(wrapper.model, [0, 0, 0, 0, 0])
    expected = direct_losses(wrapper, x, y, [wrapper.largest_indices])[0]  # training-mode forward; compare in eval:
    set_subnet_indices(wrapper.model, [0, 0, 0, 0, 0])
    logs = wrapper.test_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "kd_bce", "bce"}  # no per-size logs on validation data
    assert active_config(wrapper.model) == wrapper.space.largest()
    targets = wrapper.loss_targets(x, y)
    assert logs["loss"] == pytest.approx(float(wrapper.task_loss.parts(targets, wrapper(x))["loss"]), rel=1e-5)
    assert np.isfinite(expected)
    set_subnet_indices(wrapper.model, [0, 0, 0, 0, 0])
    assert trainer.scored_network(wrapper) is wrapper.model and active_config(wrapper.model) == wrapper.space.largest()


