"""kaudio.dtypes: validated policy names and the scope the graph builders use."""
import keras
import pytest

from kaudio.dtypes import POLICY_NAMES, dtype_policy_scope, get_policy, policy_config, policy_name
from kaudio.errors import KaudioError


def test_scope_sets_and_restores_the_default_policy():
    assert keras.config.dtype_policy().name == "float32"
    with dtype_policy_scope("mixed_bfloat16") as policy:
        assert policy.name == "mixed_bfloat16" and keras.config.dtype_policy().name == "mixed_bfloat16"
        assert keras.layers.Dense(2).compute_dtype == "bfloat16"
        with dtype_policy_scope(None) as inner:  # None keeps the policy in force
            assert inner.name == "mixed_bfloat16"
        with dtype_policy_scope(keras.DTypePolicy("float64")):
            assert keras.layers.Dense(2).dtype_policy.name == "float64"
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError):
        with dtype_policy_scope("mixed_float16"):
            raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"


def test_unknown_policy_names_the_valid_ones():
    with pytest.raises(KaudioError) as info:
        with dtype_policy_scope("mixed_bfloat"):
            pass
    assert "unknown dtype policy 'mixed_bfloat'; did you mean 'mixed_bfloat16'?" in str(info.value)
    assert "valid policies: " + ", ".join(POLICY_NAMES) in str(info.value)
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(KaudioError, match="unknown dtype policy 3"):
        get_policy(3)


def test_policy_config_round_trips():
    assert policy_config("mixed_bfloat16") == "mixed_bfloat16" and policy_name(None) == "float32"
    serialized = keras.dtype_policies.serialize(keras.DTypePolicy("mixed_float16"))
    assert get_policy(serialized).name == "mixed_float16"
    quantized = keras.dtype_policies.get("int8_from_mixed_bfloat16")
    assert get_policy(policy_config(quantized)).name == quantized.name
