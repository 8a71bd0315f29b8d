"""Spec validation: every kind of problem is reported, all at once, with its YAML path and line."""
import pytest

import kaudio
from kaudio.errors import KaudioError, SpecError
from kaudio.spec import load_spec
from tests.conftest import tiny_audio_spec

VALID = """\
name: tiny
description: a tiny model
input:
  type: audio
  sample_rate: 8000
  samples: 4000
frontend:
  type: mel
  n_fft: 256
  hop_length: 128
  n_mels: 32
backbone:
  type: l3_audio
  filters: [4, 8]
head:
  type: embedding_pool
  embedding_size: 128
  pool_sizes: {128: [4, 4]}
"""


def problems_of(ref, overrides=None):
    with pytest.raises(SpecError) as info:
        load_spec(ref, overrides)
    return info.value.problems


def find(problems, path):
    matches = [p for p in problems if p.path == path]
    assert matches, f"no problem at {path!r}; got {[str(p) for p in problems]}"
    return matches[0]


def test_valid_spec_fills_defaults(write_spec):
    spec = load_spec(write_spec(VALID))
    assert spec.name == "tiny"
    assert spec.input["duration"] == 0.5 and spec.input["channels"] == 1
    assert spec.frontend["window"] == "hann"
    assert spec.frontend["win_length"] == 256 and spec.frontend["hop_length"] == 128  # derived defaults filled in
    assert spec.backbone["l2_regularization"] == 1e-5


def test_unknown_key_with_suggestion_and_line(write_spec):
    path = write_spec(VALID.replace("  n_mels: 32", "  n_mel: 32"))
    p = find(problems_of(path), "frontend.n_mel")
    assert "unknown key" in p.message and "did you mean 'n_mels'" in p.message
    assert p.file == str(path.resolve()) and p.line == 11


def test_wrong_types_out_of_range_missing_fields_all_reported_together(write_spec):
    text = (VALID.replace("sample_rate: 8000", "sample_rate: fast")
                 .replace("n_fft: 256", "n_fft: -4")
                 .replace("filters: [4, 8]", "filters: [4, x]")
                 .replace("name: tiny\n", ""))
    problems = problems_of(write_spec(text))
    assert "expected an integer, got string 'fast'" in find(problems, "input.sample_rate").message
    assert "must be >= 2" in find(problems, "frontend.n_fft").message
    assert "expected an integer" in find(problems, "backbone.filters[1]").message
    assert "missing required key" in find(problems, "name").message
    assert len(problems) >= 4


def test_unknown_type_lists_valid_types(write_spec):
    p = find(problems_of(write_spec(VALID.replace("type: l3_audio", "type: l3_audoi"))), "backbone.type")
    assert "unknown backbone type 'l3_audoi'" in p.message
    assert "did you mean 'l3_audio'" in p.message and "l3_image" in p.message
    assert p.line == 13


def test_missing_type_and_missing_section(write_spec):
    text = VALID.replace("  type: embedding_pool\n", "").split("backbone:")[0] + "head:\n  embedding_size: 8\n"
    problems = problems_of(write_spec(text))
    assert "missing required section" in find(problems, "backbone").message
    assert "missing required key `type`" in find(problems, "head.type").message


def test_yaml_syntax_error_has_line_and_column(write_spec):
    problems = problems_of(write_spec("name: x\ninput: [1, 2\nbackbone: {}\n"))
    assert len(problems) == 1 and "YAML syntax error" in problems[0].message
    assert problems[0].line == 3 and "column" in problems[0].message


def test_duplicate_key_is_an_error(write_spec):
    p = find(problems_of(write_spec(VALID + "name: again\n")), "name")
    assert "duplicate key" in p.message and p.line == 19


@pytest.mark.parametrize("text, message", [
    ("", "the spec file is empty"),
    ("   \n# only a comment\n", "the spec file is empty"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("just a string\n", "must be a YAML mapping"),
])
def test_empty_or_non_mapping_documents(write_spec, text, message):
    problems = problems_of(write_spec(text))
    assert message in problems[0].message


def test_missing_path_and_directory(tmp_path):
    assert "no such spec file or bundled spec" in problems_of(str(tmp_path / "nope.yaml"))[0].message
    assert "did you mean 'l3_m256'" in problems_of("l3_m265")[0].message
    assert "is a directory" in problems_of(str(tmp_path))[0].message


def test_cross_field_checks(write_spec):
    text = VALID.replace("  n_mels: 32", "  n_mels: 32\n  f_max: 9000\n  win_length: 512")
    problems = problems_of(write_spec(text))
    assert "sample_rate / 2" in find(problems, "frontend.f_max").message
    assert "must be <= n_fft" in find(problems, "frontend.win_length").message


def test_embedding_size_not_offered(write_spec):
    p = find(problems_of(write_spec(VALID), ["head.embedding_size=512"]), "head.embedding_size")
    assert "offers 128" in p.message and p.file == "--set head.embedding_size=512"


def test_input_needs_duration_or_samples_and_consistency():
    spec = tiny_audio_spec(input={"type": "audio", "sample_rate": 8000})
    assert "duration" in problems_of(spec)[0].message
    spec = tiny_audio_spec(input={"type": "audio", "sample_rate": 8000, "samples": 4000, "duration": 2.0})
    assert "disagree" in find(problems_of(spec), "input.samples").message


def test_unknown_preset_and_preset_values_are_overridable():
    p = find(problems_of("l3_m256", ["frontend.preset=openl4"]), "frontend.preset")
    assert "did you mean 'openl3'" in p.message
    spec = load_spec("l3_m256", ["frontend.preset=openl3_v04", "frontend.padding=same"])
    assert spec.frontend["mel_scale"] == "slaney" and spec.frontend["padding"] == "same"


def test_reserved_sections_report_that_no_types_exist_yet():
    p = find(problems_of(tiny_audio_spec(data={"type": "folder"})), "data.type")
    assert "no data types exist yet" in p.message


def test_unknown_train_type_lists_the_valid_ones():
    p = find(problems_of(tiny_audio_spec(train={"type": "supervized"})), "train.type")
    assert "did you mean 'supervised'" in p.message and "valid types: " in p.message and "supervised" in p.message


def test_error_message_lists_every_problem():
    with pytest.raises(SpecError) as info:
        load_spec(tiny_audio_spec(name=3, description="", extra=1))
    text = str(info.value)
    assert "3 problems" in text and "name" in text and "description" in text and "extra" in text


def test_spec_round_trips_through_its_dict():
    spec = load_spec("l3_m128", ["head.embedding_size=512"])
    again = load_spec(spec.to_dict())
    assert again == spec
    assert load_spec(spec, ["input.duration=2.0", "head.pool_sizes.512=[16, 49]"]).input["samples"] == 96000


def test_bad_reference_type():
    with pytest.raises(KaudioError, match="expected a spec path"):
        load_spec(42)


def test_top_level_api_is_exposed():
    assert kaudio.load_spec is load_spec


def test_validate_runs_the_shape_checks_of_build():
    """A front end too small for the backbone's pools is found without building anything."""
    problems = problems_of("l3_m256", ["frontend.n_mels=1"])
    (problem,) = problems
    assert problem.path == "backbone" and "3 max-pools of 2x2 ('valid') need at least 8 rows and columns, got 1" in problem.message
    (problem,) = problems_of("l3_m256", ["frontend.n_mels=16"])
    assert problem.path == "head.pool_sizes.6144" and "gives 1536 values, not embedding_size 6144" in problem.message
    spec = load_spec("l3_m256")
    assert spec.shapes == {"input": (48000, 1), "frontend": (256, 199, 1), "backbone": (32, 24, 512),
                           "head": (6144,)}


def test_shapes_of_a_hierarchical_head():
    spec = load_spec("openmic_cnn14_resatt", ["head.output_attention=true"])
    assert spec.shapes["backbone"] == (2048,)
    assert spec.shapes["head"] == {"fine": (20,), "coarse": (7,), "attention": (20, 7)}


def test_win_length_longer_than_n_fft_is_refused():
    (problem,) = problems_of(tiny_audio_spec(frontend={"type": "mel", "n_fft": 256, "win_length": 512, "n_mels": 32}))
    assert problem.path == "frontend.win_length" and "must be <= n_fft (256)" in problem.message


def test_defaults_add_missing_sections_and_keep_the_spec_name():
    spec = load_spec("panns_cnn10", defaults={"train": {"type": "supervised", "spec_augment": {"enabled": False}}})
    assert spec.train["type"] == "supervised" and spec.source.endswith("panns_cnn10.yaml")
    with pytest.raises(SpecError) as info:
        load_spec("l3_m256", defaults={"loss": {"type": "hierarchical_bce"}}, defaults_origin="(added by a test)")
    assert "invalid spec " + str(load_spec("l3_m256").source) in str(info.value)
    assert info.value.problems[0].file == "(added by a test)"


def test_tower_spec_problems_are_reported_with_their_paths():
    from tests.models.test_kaudio_model import towers_spec

    spec = towers_spec(input={"type": "audio", "sample_rate": 8000, "samples": 100})
    spec["towers"]["audio"]["pooling"] = {"type": "global_pol"}
    spec["towers"]["audio"]["frontnd"] = {}
    spec["towers"]["vision"].pop("backbone")
    spec["fusion"]["order"] = ["vision", "sound"]
    problems = {p.path: p.message for p in problems_of(spec)}
    assert "gives each tower its own input" in problems["input"]
    assert "did you mean 'global_pool'" in problems["towers.audio.pooling.type"]
    assert "did you mean 'frontend'" in problems["towers.audio.frontnd"]
    assert "missing required section" in problems["towers.vision.backbone"]
    assert "no tower 'sound'" in problems["fusion.order[1]"]
    spec = towers_spec()
    del spec["fusion"]
    assert "missing required section: a fusion head" in problems_of(spec)[0].message
    assert "fusion head joins towers" in find(problems_of({**tiny_audio_spec(), "fusion": {"type": "concat_mlp",
                                                                                         "num_classes": 2}}),
                                               "fusion").message


def test_a_tower_without_pooling_cannot_be_fused():
    from tests.models.test_kaudio_model import towers_spec

    spec = towers_spec()
    del spec["towers"]["audio"]["pooling"]
    (problem,) = problems_of(spec)
    assert problem.path == "fusion" and "tower 'audio' gives (16, 15, 8)" in problem.message
