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


def test_conv_bn_act_takes_drop_in_layer_classes_and_pool_dropout_ends_a_block():
    from kaudio.blocks import pool_dropout
    from kaudio.layers.elastic import ElasticBatchNormalization, ElasticConv2D

    inputs = keras.Input((8, 8, 1))
    x = conv_bn_act(inputs, 4, name="e", conv_class=ElasticConv2D, bn_class=ElasticBatchNormalization)
    out = pool_dropout(x, name="e", pool_type="avg", dropout=0.1)
    model = keras.Model(inputs, out)
    assert isinstance(model.get_layer("e_conv"), ElasticConv2D)
    assert isinstance(model.get_layer("e_bn"), ElasticBatchNormalization)
    assert isinstance(model.get_layer("e_pool"), keras.layers.AveragePooling2D) and tuple(out.shape) == (None, 4, 4, 4)
    assert model.get_layer("e_dropout").rate == 0.1
    assert tuple(pool_dropout(inputs, name="none", pool_size=None).shape) == (None, 8, 8, 1)
