"""Image embeddings: openl3's preprocessing rules (value-range quirk, crop, rescale), embed_image,
image files, output naming and atomic writes. Random weights (weights=None) throughout."""
import os

import numpy as np
import pytest
from PIL import Image

from kaudio.embedding import output
from kaudio.embedding.image import (PreparedImages, _rescale, embed_image, embed_image_file, preprocess_images,
                                    read_image)
from kaudio.embedding.inference import predict_function
from kaudio.embedding.models import load_embedding_model
from kaudio.embedding.output import output_path, save_npz_atomic
from kaudio.errors import InputError, KaudioError, KaudioWarning, OutputError

MODEL = "openl3_image_mel256_music"


def rng_image(shape, seed=0, dtype=np.uint8, high=256):
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(dtype)


def bilinear_reference(image, out_h, out_w):
    """Independent half-pixel-centre bilinear downscale (what skimage rescale(order=1) does)."""
    image = np.asarray(image, np.float64)

    def axis(n_in, n_out):
        x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        x0 = np.floor(x).astype(int)
        return x0, np.minimum(x0 + 1, n_in - 1), x - x0

    r0, r1, wr = axis(image.shape[0], out_h)
    c0, c1, wc = axis(image.shape[1], out_w)
    rows = image[r0] * (1 - wr)[:, None, None] + image[r1] * wr[:, None, None]
    return rows[:, c0] * (1 - wc)[None, :, None] + rows[:, c1] * wc[None, :, None]


def crop(image, top, left):
    return image[..., top: top + 224, left: left + 224, :]


# ------------------------------------------------------------------------------------------------
# preprocess_images


def test_224_uint8_maps_to_minus_one_one():
    image = rng_image((224, 224, 3))
    image[0, 0] = [0, 255, 128]
    out = preprocess_images(image)
    assert out.shape == (1, 224, 224, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], 2 * image.astype(np.float64) / 255 - 1, atol=1e-6)
    assert out.min() == -1 and out.max() == pytest.approx(1, abs=1e-6)


def test_larger_uint8_is_rescaled_cropped_and_in_zero_one():
    image = rng_image((300, 340, 3), seed=1)
    out = preprocess_images(image)
    assert out.shape == (1, 224, 224, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    scale = 256 / 300
    resized = bilinear_reference(image / 255.0, round(300 * scale), round(340 * scale))  # 256 x 290
    assert resized.shape[:2] == (256, 290)
    expected = crop(resized, 256 // 2 - 112, 290 // 2 - 112)
    np.testing.assert_allclose(out[0], expected, atol=1e-6)


def test_quirk_224_vs_larger_value_ranges():
    small = np.full((224, 224, 3), 255, np.uint8)
    small[:10] = 0
    large = np.full((512, 512, 3), 255, np.uint8)
    large[:100] = 0
    assert preprocess_images(small).min() == -1  # [-1, 1]
    assert preprocess_images(large).min() == 0  # [0, 1]


def test_crop_only_when_smaller_side_at_most_256():
    # float image whose value encodes the position: checks the crop start size // 2 - 112
    height, width = 245, 300
    image = (np.arange(height)[:, None] * 1000.0 + np.arange(width)[None, :])[..., None].repeat(3, -1)
    out = preprocess_images(image)
    expected = crop(image, 245 // 2 - 112, 300 // 2 - 112)  # (10, 38)
    np.testing.assert_allclose(out[0], expected / np.abs(expected).max(), rtol=1e-6)


def test_256_uint8_frames_raw_crop_divided_by_batch_max():
    frames = rng_image((3, 256, 256, 3), seed=2, high=200)
    frames[1, 128, 128] = 230  # the batch max sits in one frame only
    out = preprocess_images(frames)
    expected = crop(frames, 16, 16).astype(np.float32) / np.float32(230)
    np.testing.assert_array_equal(out, expected)
    # PreparedImages gives the same rows slice by slice (video path)
    prepared = PreparedImages(frames)
    np.testing.assert_array_equal(np.concatenate([prepared.get(0, 2), prepared.get(2, 3)]), out)


@pytest.mark.parametrize("shape, rescaled", [((256, 400, 3), False), ((257, 400, 3), True), ((400, 257, 3), True)])
def test_rescale_only_above_256(shape, rescaled):
    image = rng_image(shape, seed=3)
    out = preprocess_images(image)[0]
    h, w = shape[:2]
    if rescaled:
        scale = 256 / min(h, w)
        resized = bilinear_reference(image / 255.0, round(h * scale), round(w * scale))
        expected = crop(resized, resized.shape[0] // 2 - 112, resized.shape[1] // 2 - 112)
    else:
        raw = crop(image, h // 2 - 112, w // 2 - 112).astype(np.float32)
        expected = raw / raw.max()
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_rescale_matches_skimage_when_available():
    skimage_transform = pytest.importorskip("skimage.transform")
    for dtype in (np.uint8, np.float32, np.int16):
        image = rng_image((333, 700, 3), seed=4, dtype=dtype, high=120)
        scale = 256 / 333
        ref = skimage_transform.rescale(image, scale, order=1, mode="constant", preserve_range=False,
                                        anti_aliasing=False, channel_axis=-1)
        np.testing.assert_allclose(_rescale(image, scale), ref, rtol=0, atol=1e-12)


def test_float_and_signed_inputs():
    floats = rng_image((224, 224, 3), dtype=np.float64) * 2.0  # 0 … 510
    np.testing.assert_allclose(preprocess_images(floats)[0], floats / floats.max(), rtol=1e-6)
    ints = rng_image((224, 224, 3), seed=5, dtype=np.int16) - 128
    np.testing.assert_allclose(preprocess_images(ints)[0], ints / 32767.0, atol=1e-7)
    small = rng_image((224, 224, 3), seed=6, dtype=np.float32) / 255  # already in [0, 1]: unchanged
    np.testing.assert_array_equal(preprocess_images(small)[0], small)


@pytest.mark.parametrize("image, match", [
    (np.zeros((0, 224, 224, 3), np.uint8), "empty"),
    (np.zeros((224, 224), np.uint8), "grayscale"),
    (np.zeros((1, 1, 224, 224, 3), np.uint8), "5 dimensions"),
    (np.zeros((224, 224, 4), np.uint8), r"alpha channel: image\[\.\.\., :3\]"),
    (np.zeros((224, 224, 1), np.uint8), "repeat the channel"),
    (np.zeros((224, 300, 2), np.uint8), "2 channels"),
    (np.zeros((223, 300, 3), np.uint8), "223x300.*at least 224"),
    (np.zeros((224, 224, 3), object), "dtype object"),
    (np.zeros((224, 224, 3), bool), "dtype bool"),
    (np.zeros((224, 224, 3), complex), "dtype complex"),
    (np.full((224, 224, 3), np.nan), "1 NaN or infinite|NaN or infinite"),
    ([[1, 2, 3]], "numpy array"),
])
def test_preprocess_errors(image, match):
    with pytest.raises(InputError, match=match):
        preprocess_images(image)


def test_inf_is_an_error_and_all_zeros_warns():
    image = np.ones((224, 224, 3), np.float32)
    image[5, 5, 1] = np.inf
    with pytest.raises(InputError, match="1 NaN or infinite"):
        preprocess_images(image)
    with pytest.warns(KaudioWarning, match="all zeros"):
        out = preprocess_images(np.zeros((230, 230, 3), np.uint8))
    assert not out.any()


# ------------------------------------------------------------------------------------------------
# embed_image


def test_embed_single_image_matches_model_and_sizes():
    image = rng_image((260, 300, 3), seed=7)
    emb = embed_image(image, model=MODEL, embedding_size=512, weights=None)
    assert emb.shape == (1, 512) and emb.dtype == np.float32
    expected = load_embedding_model(MODEL, 512, None).predict(preprocess_images(image), verbose=0)
    np.testing.assert_allclose(emb, expected, rtol=1e-4, atol=1e-5)
    big = embed_image(image, model=MODEL, embedding_size=8192, weights=None)
    assert big.shape == (1, 8192) and big.dtype == np.float32


def test_embed_batch_list_and_frame_rates():
    a = rng_image((2, 224, 224, 3), seed=8)
    b = rng_image((250, 240, 3), seed=9)
    single_a = embed_image(a, embedding_size=512, weights=None, batch_size=2)
    single_b = embed_image(b, embedding_size=512, weights=None)
    assert single_a.shape == (2, 512)
    # a list shares batches across items (batch 2 spans a[1] and b) and splits the results back
    embs, stamps = embed_image([a, b], frame_rate=[4, 2.0], embedding_size=512, weights=None, batch_size=2)
    assert [e.shape for e in embs] == [(2, 512), (1, 512)]
    np.testing.assert_allclose(embs[0], single_a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(embs[1], single_b, rtol=1e-4, atol=1e-5)
    # each rate applies to its own item (openl3 would use the last rate, 2.0, for both)
    np.testing.assert_allclose(stamps[0], [0, 0.25])
    np.testing.assert_allclose(stamps[1], [0])
    emb, ts = embed_image(a, frame_rate=10, embedding_size=512, weights=None)
    np.testing.assert_allclose(ts, [0, 0.1])
    assert isinstance(embed_image([b], embedding_size=512, weights=None), list)


def test_inference_function_is_not_retraced():
    model = load_embedding_model(MODEL, 512, None)
    fn = predict_function(model)
    embed_image(rng_image((3, 224, 224, 3)), embedding_size=512, weights=None, batch_size=2)  # batches of 2 and 1
    count = fn.experimental_get_tracing_count()
    embed_image(rng_image((224, 224, 3)), embedding_size=512, weights=None)
    assert fn.experimental_get_tracing_count() == count == 1


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(frame_rate=0), InputError, "frame_rate must be a positive"),
    (dict(frame_rate=-2.5), InputError, "frame_rate must be a positive"),
    (dict(frame_rate=float("nan")), InputError, "frame_rate must be a positive"),
    (dict(frame_rate=True), InputError, "frame_rate must be a positive"),
    (dict(frame_rate="10"), InputError, "frame_rate must be a positive"),
    (dict(frame_rate=[10, 20]), InputError, "2 frame rates for a single image array"),
    (dict(batch_size=0), InputError, "batch_size must be a positive integer"),
    (dict(batch_size=2.0), InputError, "batch_size must be a positive integer"),
    (dict(model="openl3_mel256_music"), KaudioError, "unknown image embedding model"),
    (dict(embedding_size=6144), KaudioError, "embedding_size 6144 is not offered"),
])
def test_embed_image_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        embed_image(np.zeros((224, 224, 3), np.uint8), weights=None, **kwargs)


def test_embed_image_input_errors():
    with pytest.raises(InputError, match="empty list"):
        embed_image([], weights=None)
    with pytest.raises(InputError, match="numpy array"):
        embed_image("daisy.jpg", weights=None)
    with pytest.raises(InputError, match=r"images\[1\] has 4 channels"):
        embed_image([np.ones((224, 224, 3)), np.ones((224, 224, 4))], embedding_size=512, weights=None)
    with pytest.raises(InputError, match="3 frame rates for 2 image arrays"):
        embed_image([np.ones((224, 224, 3))] * 2, frame_rate=[1, 2, 3], weights=None)


# ------------------------------------------------------------------------------------------------
# Files


def test_daisy_file_to_npz(fixtures_dir, tmp_path):
    daisy = fixtures_dir / "daisy.jpg"
    (out,) = embed_image_file(daisy, output_dir=tmp_path, weights=None)
    assert out == tmp_path / "daisy.npz"
    with np.load(out) as data:
        assert data.files[0] == "embedding" and "timestamps" not in data.files
        assert data["model"].item() == "openl3_image_mel256_music" and data["embedding_size"].item() == 8192
        assert data["weights"].item() == "random" and "hop_size" not in data.files
        embedding = data["embedding"]
    assert embedding.shape == (1, 8192) and embedding.dtype == np.float32
    image = read_image(daisy)
    assert image.shape == (839, 659, 3) and image.dtype == np.uint8
    np.testing.assert_allclose(embedding, embed_image(image, weights=None), rtol=1e-4, atol=1e-5)
    assert sorted(os.listdir(tmp_path)) == ["daisy.npz"]  # no temporary files left


def test_image_files_batch_together_suffix_and_blank_warning(fixtures_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(rng_image((230, 240, 3), seed=10)).save(src / "a.png")
    Image.fromarray(rng_image((240, 230, 3), seed=11)).save(src / "b.png")
    with pytest.warns(KaudioWarning, match="blank.png is all zeros"):
        outs = embed_image_file([src / "a.png", src / "b.png", fixtures_dir / "blank.png"], output_dir=tmp_path / "out",
                                suffix="v1", embedding_size=512, batch_size=2, weights=None)
    assert outs == [tmp_path / "out" / n for n in ("a_v1.npz", "b_v1.npz", "blank_v1.npz")]
    single = embed_image(read_image(src / "b.png"), embedding_size=512, weights=None)
    with np.load(outs[1]) as data:
        np.testing.assert_allclose(data["embedding"], single, rtol=1e-4, atol=1e-5)
    # a suffix starting with "." is appended without "_"; default folder is the input's
    (out,) = embed_image_file(src / "a.png", suffix=".l3", embedding_size=512, weights=None)
    assert out == src / "a.l3.npz" and out.exists()


def test_read_image_modes(tmp_path):
    rgb = rng_image((230, 240, 3), seed=12)
    rgba = np.concatenate([rgb, np.full((230, 240, 1), 7, np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgb)  # alpha dropped
    gray = rgb[..., 0]
    Image.fromarray(gray, "L").save(tmp_path / "gray.png")
    np.testing.assert_array_equal(read_image(tmp_path / "gray.png"), np.repeat(gray[..., None], 3, -1))
    gray16 = (gray.astype(np.uint16) * 200)
    Image.fromarray(gray16).save(tmp_path / "gray16.png")
    out16 = read_image(tmp_path / "gray16.png")
    assert out16.shape == (230, 240, 3) and out16.max() == gray16.max()
    Image.fromarray(gray, "L").convert("P").save(tmp_path / "pal.gif")
    assert read_image(tmp_path / "pal.gif").shape == (230, 240, 3)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="nope.jpg: file not found"):
        embed_image_file(tmp_path / "nope.jpg", weights=None)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="bad.jpg: cannot read image"):
        embed_image_file(bad, weights=None)
    with pytest.raises(InputError, match="is a directory"):
        read_image(tmp_path)
    with pytest.raises(InputError, match="paths must be a path or a list of paths"):
        embed_image_file(3, weights=None)
    assert not list(tmp_path.glob("*.npz"))


def test_outputs_before_a_bad_file_are_written(tmp_path):
    Image.fromarray(rng_image((224, 224, 3))).save(tmp_path / "good.png")
    with pytest.raises(InputError, match="missing.png"):
        embed_image_file([tmp_path / "good.png", tmp_path / "missing.png"], embedding_size=512, weights=None)
    assert (tmp_path / "good.npz").exists()


def test_skip_existing_and_overwrite(tmp_path):
    Image.fromarray(rng_image((224, 224, 3))).save(tmp_path / "x.png")
    target = tmp_path / "x.npz"
    save_npz_atomic(target, embedding=np.zeros((1, 1)))  # no settings recorded (openl3 / older kaudio)
    with pytest.raises(OutputError, match="records no kaudio settings.*overwrite=True"):
        embed_image_file(tmp_path / "x.png", embedding_size=512, weights=None)
    with np.load(target) as data:
        assert data["embedding"].shape == (1, 1)  # untouched
    (out,) = embed_image_file(tmp_path / "x.png", overwrite=True, embedding_size=512, weights=None)
    assert out == target
    mtime = target.stat().st_mtime_ns
    with pytest.warns(KaudioWarning, match="exists with the same settings"):
        embed_image_file(tmp_path / "x.png", embedding_size=512, weights=None)
    assert target.stat().st_mtime_ns == mtime
    with pytest.raises(OutputError, match="embedding_size: file has 512, this run 8192"):
        embed_image_file(tmp_path / "x.png", embedding_size=8192, weights=None)
    with np.load(target) as data:
        assert data["embedding"].shape == (1, 512)


# ------------------------------------------------------------------------------------------------
# Output helpers (shared with audio and video)


def test_output_path_rules(tmp_path):
    assert output_path("/data/clip.v2.wav", None) == output_path("/data/clip.v2.wav", "")
    assert str(output_path("/data/clip.v2.wav", None)) == "/data/clip.v2.npz"  # only the last extension goes
    assert str(output_path("/data/a.jpg", "l3")) == "/data/a_l3.npz"
    assert str(output_path("/data/a.jpg", ".l3")) == "/data/a.l3.npz"
    assert output_path("/data/a.jpg", "l3", tmp_path) == tmp_path / "a_l3.npz"
    assert str(output_path("rel/a", None)) == "rel/a.npz"
    # video tags, openl3's naming (the tag keeps its "_" even before a "." suffix)
    assert str(output_path("/v/b.mp4", None, tag="audio")) == "/v/b_audio.npz"
    assert str(output_path("/v/b.mp4", "x", tag="image")) == "/v/b_image_x.npz"
    assert str(output_path("/v/b.mp4", ".x", tag="image")) == "/v/b_image_.x.npz"


def test_save_npz_atomic(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "e.npz"
    assert save_npz_atomic(target, embedding=np.ones((2, 3), np.float32), timestamps=np.arange(2.0)) == target
    with np.load(target) as data:
        assert set(data.keys()) == {"embedding", "timestamps"}
        np.testing.assert_array_equal(data["embedding"], np.ones((2, 3)))
    assert os.listdir(target.parent) == ["e.npz"]
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o666 & ~umask

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(output.np, "savez", boom)
    with pytest.raises(OutputError, match=f"cannot write {target}: disk full"):
        save_npz_atomic(target, embedding=np.zeros(1))
    with pytest.raises(OutputError, match="disk full"):
        save_npz_atomic(tmp_path / "new.npz", embedding=np.zeros(1))
    assert os.listdir(target.parent) == ["e.npz"] and not (tmp_path / "new.npz").exists()
    assert not [p for p in tmp_path.rglob("*") if output.is_temporary(p)]
    with np.load(target) as data:  # the old file survived the failed write
        np.testing.assert_array_equal(data["embedding"], np.ones((2, 3)))
