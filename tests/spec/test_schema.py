"""Field/Schema checks in isolation."""
from kaudio.spec.schema import Field, Schema, did_you_mean, format_path


def test_format_path():
    assert format_path(("backbone", "filters", 2)) == "backbone.filters[2]"


def test_did_you_mean():
    assert did_you_mean("n_mel", ["n_mels", "n_fft"]) == "; did you mean 'n_mels'?"
    assert did_you_mean("zzz", ["n_mels"]) == ""


def test_types_ranges_choices_and_defaults():
    schema = Schema((
        Field("a", int, minimum=1), Field("b", float, 0.5, maximum=1.0), Field("c", str, "x", choices=("x", "y")),
        Field("d", bool, False), Field("e", list, [1], item_kind=int, length=2), Field("f", float, None, nullable=True),
    ))
    out, problems = schema.validate({"a": 0, "b": 2, "c": "z", "d": "yes", "e": [1], "f": None}, ("s",))
    messages = dict(problems)
    assert messages[("s", "a")] == "got 0, must be >= 1"
    assert messages[("s", "b")] == "got 2.0, must be <= 1.0"
    assert "expected one of 'x', 'y'" in messages[("s", "c")]
    assert "true or false" in messages[("s", "d")]
    assert "list of 2 items" in messages[("s", "e")]
    assert ("s", "f") not in messages
    out, problems = schema.validate({"a": 3}, ("s",))
    assert not problems and out == {"a": 3, "b": 0.5, "c": "x", "d": False, "e": [1], "f": None}


def test_bool_is_not_an_int_and_float_int_is_flagged():
    schema = Schema((Field("a", int),))
    assert "got boolean true" in schema.validate({"a": True}, ())[1][0][1]
    assert "write 3" in schema.validate({"a": 3.0}, ())[1][0][1]


def test_dict_fields_accept_json_string_keys():
    schema = Schema((Field("m", dict, key_kind=int, value_kind=list, value_length=2),))
    out, problems = schema.validate({"m": {"512": [1, 2]}}, ())
    assert not problems and out["m"] == {512: [1, 2]}
    assert schema.validate({"m": {512: [1]}}, ())[1]


def test_empty_lists_only_where_allowed():
    schema = Schema((Field("a", list, [1], item_kind=int), Field("b", list, None, item_kind=int, allow_empty=True,
                                                                  nullable=True)))
    assert schema.validate({"a": []}, ("s",))[1] == [(("s", "a"), "must not be empty")]
    out, problems = schema.validate({"b": []}, ("s",))
    assert not problems and out["b"] == []
