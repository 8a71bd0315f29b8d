import kaudio
from kaudio.card import layer_multiply_adds
from tests.conftest import tiny_audio_spec


def test_l3_m256_card_numbers():
    card = kaudio.model_card(kaudio.build("l3_m256"))
    assert card.total_params == 4_689_860 and card.trainable_params == 4_687_042
    assert card.non_trainable_params == 2_818
    assert card.output_shape == (None, 6144)
    # 10.2 G conv multiply-adds per 1-s window (20.6 GFLOP, as in the embedding issue)
    assert 10.1e9 < card.multiply_adds - card.frontend_multiply_adds < 10.3e9
    text = card.to_text()
    for needle in ["l3_m256", "48000 Hz", "n_mels=256", "mel_scale=htk", "(None, 6144)", "4,689,860", "multiply-adds"]:
        assert needle in text


def test_multiply_adds_sum_of_convs_for_tiny_model():
    model = kaudio.build(tiny_audio_spec())
    convs = [l for l in model.backbone.layers if l.__class__.__name__ == "Conv2D"]
    expected = sum(layer_multiply_adds(l) for l in convs)
    first = model.backbone.get_layer("block1_conv1_conv")
    assert layer_multiply_adds(first) == 32 * 32 * 9 * 1 * 4  # 32 mels x ceil(4000/128) frames
    card = kaudio.model_card(model)
    assert card.multiply_adds == expected + card.frontend_multiply_adds
    assert card.frontend_multiply_adds == model.frontend.multiply_adds((None, 4000, 1))
