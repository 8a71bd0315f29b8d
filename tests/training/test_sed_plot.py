"""The Fig. 3-style SED picture: seven panels from arrays, class choice, and the arrays of a model."""
import numpy as np
import pytest

import kaudio
from kaudio.errors import InputError
from kaudio.training.sed_plot import PANELS, pick_classes, plot_sed, sed_figure, sed_outputs
from tests.training.test_sed import spec_dict

T, F, K = 40, 16, 5
NAMES = ["Bark", "Cello", "Cough", "Flute", "Violin_or_fiddle"]
HOP = 0.05


def arrays(seed=0, linear=True):
    rng = np.random.default_rng(seed)
    mel_logits = rng.standard_normal((T, F, K))
    time_logits = rng.standard_normal((T, K))
    return {"features": rng.standard_normal((T, F)),
            "class_map": rng.standard_normal((T, F, K)) if linear else rng.random((T, F, K)),
            "frames": rng.random((T, K)), "clip": np.array([0.1, 0.9, 0.3, 0.8, 0.2]),
            "reconstruction": np.abs(rng.standard_normal((T, F, 1))),
            "mel_attention": np.exp(mel_logits) / np.exp(mel_logits).sum(axis=1, keepdims=True),
            "time_attention": np.exp(time_logits) / np.exp(time_logits).sum(axis=0, keepdims=True)}


def texts(ax):
    return " ".join(t.get_text() for t in ax.texts)


def test_seven_panels_written_as_a_png(tmp_path):
    import matplotlib.image
    import matplotlib.pyplot as plt

    a = arrays()
    events = [(0.2, 0.9, "Cello"), (1.1, 1.6, "Bark")]
    fig = sed_figure(a["features"], a["class_map"], a["frames"], a["clip"], NAMES, reconstruction=a["reconstruction"],
                     mel_attention=a["mel_attention"], time_attention=a["time_attention"], events=events,
                     frame_hop_s=HOP, head_type="sed_2apae", title="clip.wav")
    try:
        assert len(fig.axes) == len(PANELS) == 7
        assert [ax.get_title(loc="left")[:1] for ax in fig.axes] == list("1234567")
        assert fig.axes[0].get_xlim() == pytest.approx((0.0, T * HOP))  # one time axis, in seconds
        assert not any(ax.texts for ax in fig.axes)  # every panel has its data
        # rows: the most probable classes first, and Bark (an event, p = 0.1) is among them
        labels = [t.get_text() for t in fig.axes[5].get_yticklabels()]
        assert labels[:2] == ["Cello 0.90", "Flute 0.80"] and "Bark 0.10" in labels
        assert [t.get_text() for t in fig.axes[2].get_yticklabels()] == ["Flute", "Cello"]  # top 2, the first on top
        assert len(fig.axes[6].collections) == 2  # one bar per event
    finally:
        plt.close(fig)
    path = plot_sed(tmp_path / "sed.png", a["features"], a["class_map"], a["frames"], a["clip"], NAMES,
                    reconstruction=a["reconstruction"], mel_attention=a["mel_attention"],
                    time_attention=a["time_attention"], events=events, frame_hop_s=HOP)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > 1000 and height > 1000


def test_baseline_panels_say_what_is_missing():
    import matplotlib.pyplot as plt

    a = arrays(linear=False)
    fig = sed_figure(a["features"], a["class_map"], a["frames"], a["clip"], NAMES, head_type="sed_gap",
                     no_events="no ground truth: give --data DIR", classes=["Cough", "Bark"])
    try:
        assert len(fig.axes) == 7
        assert "no decoder: sed_gap" in texts(fig.axes[1])
        assert "no mel attention" in texts(fig.axes[3]) and "no time attention" in texts(fig.axes[4])
        assert "give --data DIR" in texts(fig.axes[6])
        assert [t.get_text() for t in fig.axes[5].get_yticklabels()] == ["Cough 0.30", "Bark 0.10"]
        assert fig.axes[6].get_xlabel() == "frame"  # no hop given: the axis counts input frames
    finally:
        plt.close(fig)


def test_pick_classes():
    clip = [0.1, 0.9, 0.3, 0.8, 0.2]
    assert pick_classes(clip, NAMES) == ([1, 3], [1, 3, 2, 4, 0])
    assert pick_classes(clip, NAMES, rows=2, events=[(0, 1, "Bark")]) == ([1, 3], [1, 3, 0])
    assert pick_classes(clip, NAMES, classes=["Flute", "Bark", "Flute"]) == ([3, 0], [3, 0])
    with pytest.raises(InputError, match="unknown class 'Violin_or_fidle'; did you mean 'Violin_or_fiddle'"):
        pick_classes(clip, NAMES, classes=["Violin_or_fidle"])


def test_shape_mismatches_are_explained():
    a = arrays()
    with pytest.raises(InputError, match="5 classes, the clip probabilities 5 and the names 4"):
        sed_figure(a["features"], a["class_map"], a["frames"], a["clip"], NAMES[:4])
    with pytest.raises(InputError, match="frames must be"):
        sed_figure(a["features"], a["class_map"], a["frames"][:10], a["clip"], NAMES)
    with pytest.raises(InputError, match="mel_attention must be"):
        sed_figure(a["features"], a["class_map"], a["frames"], a["clip"], NAMES, mel_attention=a["frames"])
    with pytest.raises(InputError, match="frame_hop_s"):
        sed_figure(a["features"], a["class_map"], a["frames"], a["clip"], NAMES, events=[])


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_sed_outputs_of_2apae_without_its_attention_outputs():
    spec = spec_dict()
    spec["head"]["output_attention"] = False
    model = kaudio.build(spec)
    audio = 0.1 * np.random.default_rng(0).standard_normal((32000, 1)).astype("float32")
    values = sed_outputs(model, audio)
    t = model.frontend.frames(32000)
    assert values["features"].shape == (t, 32) and values["reconstruction"].shape == (t, 32)
    assert values["class_map"].shape == (t, 32, 4) and values["frames"].shape == (t, 4) and values["clip"].shape == (4,)
    # the attention maps come from the head's own layer on the class map: they give the model's outputs
    assert values["mel_attention"].shape == (t, 32, 4)
    _close(values["mel_attention"].sum(axis=1), 1.0)
    _close(values["time_attention"].sum(axis=0), 1.0)
    full = kaudio.build(spec_dict())
    full.set_weights(model.get_weights())
    out = full(audio[None], training=False)
    _close(values["mel_attention"], np.asarray(out["mel_attention"])[0])
    _close(values["time_attention"], np.asarray(out["time_attention"])[0])
    _close(values["frames"], np.asarray(out["frames"])[0])


def test_sed_outputs_of_a_baseline():
    model = kaudio.build(spec_dict(head="sed_gap"))
    audio = 0.1 * np.random.default_rng(1).standard_normal((32000, 1)).astype("float32")
    values = sed_outputs(model, audio)
    assert set(values) == {"features", "class_map", "frames", "clip"}
    _close(values["frames"], values["class_map"].mean(axis=1))  # the frames are the class map's mean over F
    _close(values["clip"], values["class_map"].mean(axis=(0, 1)))  # GAP of the same map


def test_sed_outputs_needs_a_sed_model():
    from tests.training import tiny_spec, toy_arrays

    audio, _ = toy_arrays(1)
    with pytest.raises(InputError, match="no class convolution"):
        sed_outputs(kaudio.build(tiny_spec(head="gmp")), audio[0])
