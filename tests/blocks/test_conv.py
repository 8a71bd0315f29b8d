import keras
import pytest

from kaudio.blocks import conv_block, conv_bn_act


def test_conv_bn_act_orders_and_names():
    inputs = keras.Input((8, 8, 1))
    x = conv_bn_act(inputs, 4, name="a", l2=1e-5)
    y = conv_bn_act(x, 4, name="b", order="conv_act_bn", use_bias=False, bn_epsilon=1e-5)
    model = keras.Model(inputs, y)
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["a_conv", "a_bn", "a_relu", "b_conv", "b_relu", "b_bn"]
    assert model.get_layer("b_conv").use_bias is False and model.get_layer("b_bn").epsilon == 1e-5
    assert model.get_layer("a_conv").kernel_regularizer is not None


def test_conv_block_pooling_and_dropout():
    inputs = keras.Input((9, 8, 1))
    out = conv_block(inputs, 4, name="blk", pool_type="avg", dropout=0.2)
    model = keras.Model(inputs, out)
    assert tuple(out.shape) == (None, 4, 4, 4)  # 'valid' pooling floors 9 -> 4
    assert isinstance(model.get_layer("blk_pool"), keras.layers.AveragePooling2D)
    assert model.get_layer("blk_dropout").rate == 0.2


def test_bad_order():
    with pytest.raises(ValueError, match="order"):
        conv_bn_act(keras.Input((4, 4, 1)), 2, name="x", order="bn_first")
