"""OpenL3 .h5 files (Keras-2 ``save_weights`` layout) mapped onto kaudio's L3 backbones by position."""
import h5py
import keras
import numpy as np
import pytest

import kaudio
from kaudio.convert.openl3 import (assign_openl3_weights, convert_openl3, load_openl3_weights, read_openl3_h5,
                                   spec_for_file, weighted_layers)
from kaudio.errors import KaudioError, WeightsError
from kaudio.models.l3.l3_backbone import L3AudioBackbone, L3ImageBackbone
from tests.convert import (keras2_layers, openl3_reference_model, randomise_weights, write_keras2_h5,
                           write_openl3_file)


def test_mel256_embedding_equals_an_independent_openl3_network(tmp_path):
    reference = openl3_reference_model("audio", (256, 199, 1), embedding_pool=(8, 8))
    randomise_weights(reference, seed=1)
    path = write_keras2_h5(tmp_path / "openl3_audio_mel256_music.h5", keras2_layers(reference))
    model = kaudio.build("l3_m256")
    spectrogram = np.random.default_rng(2).normal(-40, 15, (1, 256, 199, 1)).astype("float32")
    expected = reference.predict(spectrogram, verbose=0)

    def embedding():
        return keras.ops.convert_to_numpy(model.head(model.backbone(spectrogram)))

    assert np.abs(embedding() - expected).max() > 1e-2  # random kaudio weights: the check below can fail
    mapping = load_openl3_weights(model.backbone, path)
    got = embedding()
    assert got.shape == expected.shape == (1, 6144)
    assert np.abs(got - expected).max() < 1e-4
    assert len(mapping.matches) == 16 and not mapping.notes
    first, last = mapping.matches[0], mapping.matches[-1]
    assert (first.position, first.file_layer, first.kaudio_layer, first.shapes) == (1, "batch_normalization_1", "input_bn", ((1,),) * 4)
    assert (last.file_layer, last.kaudio_layer, last.shapes) == ("audio_embedding_layer", "audio_embedding_layer",
                                                                 ((3, 3, 512, 512), (512,)))


def test_image_network_with_relu_before_bn_in_block_1(tmp_path):
    reference = openl3_reference_model("image", (32, 32, 3))
    randomise_weights(reference, seed=3)
    path = write_keras2_h5(tmp_path / "image.h5", keras2_layers(reference))
    backbone = L3ImageBackbone(feature_shape=(32, 32, 3))
    mapping = load_openl3_weights(backbone, path)
    images = np.random.default_rng(4).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(backbone.predict(images, verbose=0), reference.predict(images, verbose=0), atol=1e-4)
    assert mapping.matches[-1].kaudio_layer == "vision_embedding_layer" and len(mapping.matches) == 16


def test_weightless_layers_are_not_listed_and_weights_keep_file_order(tmp_path):
    path = write_openl3_file(tmp_path / "small.h5", filters=(4, 8))
    groups = read_openl3_h5(path)
    assert [name for name, _ in groups] == ["batch_normalization_1", "conv2d_1", "batch_normalization_2", "conv2d_2",
                                            "batch_normalization_3", "conv2d_3", "batch_normalization_4",
                                            "audio_embedding_layer"]
    assert [a.shape for a in groups[1][1]] == [(3, 3, 1, 4), (4,)]
    with h5py.File(path) as file:  # gamma, beta, moving_mean, moving_variance
        np.testing.assert_array_equal(groups[0][1][3], file["batch_normalization_1/batch_normalization_1/moving_variance:0"])


def test_layer_count_mismatch_names_the_first_differing_position(tmp_path):
    layers = [layer for layer in keras2_layers(_reference("audio")) if layer[0] != "batch_normalization_2"]
    path = write_keras2_h5(tmp_path / "missing.h5", layers)
    with pytest.raises(WeightsError) as err:
        load_openl3_weights(L3AudioBackbone(feature_shape=(16, 16, 1)), path)
    message = str(err.value)
    assert str(path) in message and "the file has 15 weighted layers, the backbone 16" in message
    assert ("position 3: file conv2d_2 [(3, 3, 64, 64), (64,)] vs kaudio block1_conv1_bn [(64,), (64,), (64,), (64,)]"
            "   <- first difference") in message


def test_shape_mismatch_names_every_position_and_leaves_the_backbone_unchanged(tmp_path):
    path = write_openl3_file(tmp_path / "image.h5", modality="image")
    backbone = L3AudioBackbone(feature_shape=(16, 16, 1))
    before = backbone.get_weights()
    with pytest.raises(WeightsError) as err:
        load_openl3_weights(backbone, path)
    message = str(err.value)
    assert str(path) in message and "2 weighted layers differ in shape" in message
    assert "position 1: file batch_normalization_1 [(3,), (3,), (3,), (3,)] vs kaudio input_bn [(1,), (1,), (1,), (1,)]" in message
    assert "position 2: file conv2d_1 [(3, 3, 3, 64), (64,)] vs kaudio block1_conv1_conv [(3, 3, 1, 64), (64,)]" in message
    assert "position 3" not in message
    assert all(np.array_equal(a, b) for a, b in zip(before, backbone.get_weights()))


def test_v020_file_with_kapre_front_end_group_is_loaded_with_a_note(tmp_path):
    reference = _reference("audio", filters=(4, 8))
    layers = keras2_layers(reference)
    kapre = ("melspectrogram_1", [("melspectrogram_1/dft_real_kernels:0", np.zeros((16, 1, 1, 9), "float32")),
                                  ("melspectrogram_1/dft_imag_kernels:0", np.zeros((16, 1, 1, 9), "float32")),
                                  ("melspectrogram_1/freq2mel:0", np.zeros((9, 4), "float32"))])
    path = write_keras2_h5(tmp_path / "v0_2_0.h5", layers[:1] + [kapre] + layers[1:])
    backbone = L3AudioBackbone(feature_shape=(16, 16, 1), filters=(4, 8))
    mapping = load_openl3_weights(backbone, path)
    assert len(mapping.matches) == 8 and mapping.matches[0].file_layer == "batch_normalization_1"
    assert "skipped 'melspectrogram_1' [(16, 1, 1, 9), (16, 1, 1, 9), (9, 4)]: the kapre 0.1.4 front end" in mapping.notes[0]
    np.testing.assert_array_equal(backbone.get_weights()[0], reference.get_weights()[0])


def test_an_extra_first_group_that_is_no_kapre_front_end_is_a_count_mismatch(tmp_path):
    layers = keras2_layers(_reference("audio", filters=(4, 8)))
    extra = ("dense_1", [("dense_1/kernel:0", np.zeros((16, 9), "float32")), ("dense_1/bias:0", np.zeros(9, "float32"))])
    path = write_keras2_h5(tmp_path / "extra.h5", [extra] + layers)
    with pytest.raises(WeightsError, match="the file has 9 weighted layers, the backbone 8"):
        load_openl3_weights(L3AudioBackbone(feature_shape=(16, 16, 1), filters=(4, 8)), path)


@pytest.mark.parametrize("content, needle", [
    (b"not hdf5 at all", "not a readable HDF5 file"),
    (None, "no root attribute 'layer_names'"),
])
def test_files_of_the_wrong_kind(tmp_path, content, needle):
    path = tmp_path / "bad.h5"
    if content is None:
        with h5py.File(path, "w") as file:
            file.create_dataset("x", data=np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match=needle) as err:
        read_openl3_h5(path)
    assert str(path) in str(err.value)


def test_missing_file_and_damaged_group(tmp_path):
    with pytest.raises(WeightsError, match="no such OpenL3 weights file"):
        read_openl3_h5(tmp_path / "absent.h5")
    path = write_openl3_file(tmp_path / "damaged.h5", filters=(4, 8))
    with h5py.File(path, "a") as file:
        del file["conv2d_1/conv2d_1/bias:0"]
    with pytest.raises(WeightsError, match=r"layer 'conv2d_1' lists weights \['conv2d_1/bias:0'\] that are not in the file"):
        read_openl3_h5(path)


def test_assign_checks_before_assigning(tmp_path):
    groups = read_openl3_h5(write_openl3_file(tmp_path / "a.h5", filters=(4, 8)))
    backbone = L3AudioBackbone(feature_shape=(16, 16, 1), filters=(4, 8))
    assert len(weighted_layers(backbone)) == 8
    mapping = assign_openl3_weights(backbone, groups, tmp_path / "a.h5")
    assert [m.position for m in mapping.matches] == list(range(1, 9))
    assert "  1  batch_normalization_1 -> input_bn" in mapping.describe()


@pytest.mark.parametrize("name, spec", [
    ("openl3_audio_mel256_music-v0_4_0.h5", "l3_m256"),
    ("openl3_audio_mel128_env.h5", "l3_m128"),
    ("openl3_audio_linear_music.h5", "l3_linear"),
    ("openl3_image_mel256_music.h5", "l3_image"),
    ("weights.h5", None),
])
def test_spec_for_file(name, spec):
    assert spec_for_file(name) == spec


def test_convert_openl3_writes_a_kaudio_weights_file(tmp_path):
    src = write_openl3_file(tmp_path / "openl3_image_mel256_env.h5", modality="image", seed=5)
    out = tmp_path / "image.weights.h5"
    mapping = convert_openl3(src, out, spec="l3_image")
    assert len(mapping.matches) == 16 and out.is_file()
    restored = L3ImageBackbone()
    restored.load_weights(out)
    expected = [w for _, weights in read_openl3_h5(src) for w in weights]
    assert all(np.array_equal(a, b) for a, b in zip(restored.get_weights(), expected))


def test_convert_openl3_output_name_and_folder(tmp_path):
    src = write_openl3_file(tmp_path / "a.h5")
    with pytest.raises(KaudioError, match="must end in .weights.h5"):
        convert_openl3(src, tmp_path / "out.h5")
    with pytest.raises(KaudioError, match="does not exist"):
        convert_openl3(src, tmp_path / "no" / "out.weights.h5")


def _reference(modality, filters=(64, 128, 256, 512)):
    model = openl3_reference_model(modality, (16, 16, 3 if modality == "image" else 1), filters)
    randomise_weights(model)
    return model
