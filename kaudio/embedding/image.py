"""Image embeddings (``openl3.get_image_embedding`` / ``process_image_file``, ``marl/openl3`` ``openl3/core.py``).

Preprocessing follows openl3's ``_preprocess_image_batch`` rule for rule, including its value-range
quirk (a 224×224 uint8 image is scaled to [−1, 1]; an image that had to be cropped or rescaled ends
up in [0, 1]) — the pretrained image networks were used that way, so matching it matters more than
tidiness. See :func:`preprocess_images`.

Differences from openl3, all deliberate:

* a list of frame rates applies one rate per list item (openl3 uses the *last* rate for every item);
* NaN / inf pixels, non-numeric dtypes and RGBA arrays are errors with a hint (openl3 drops alpha
  only in its file reader; so does :func:`read_image`);
* grayscale image *files* are expanded to three channels (openl3 fails on them);
* images of a list (and of several files) share inference batches; the results are identical.
"""
from __future__ import annotations

import numbers
import os
import warnings
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from kaudio.embedding.models import DEFAULT_IMAGE_MODEL, PRETRAINED, load_embedding_model, model_info
from kaudio.embedding.output import output_path, save_npz_atomic
from kaudio.embedding.validation import check_batch_size
from kaudio.errors import InputError, KaudioWarning

SIZE = 224  # side of the network input
RESCALE_SIDE = 256  # images whose smaller side is larger are first scaled so that it becomes 256
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


# ----------------------------------------------------------------------------------------------
# Validation helpers


def check_frame_rate(frame_rate, where: str = "frame_rate") -> float:
    if (isinstance(frame_rate, bool) or not isinstance(frame_rate, numbers.Real)
            or not np.isfinite(frame_rate) or frame_rate <= 0):
        raise InputError(f"{where} must be a positive number of frames per second, got {frame_rate!r}")
    return float(frame_rate)


def _frame_rates(frame_rate, n_items: int, is_list: bool) -> list[float | None]:
    if frame_rate is None:
        return [None] * n_items
    if isinstance(frame_rate, (list, tuple, np.ndarray)):
        rates = list(frame_rate)
        if not is_list or len(rates) != n_items:
            what = f"{n_items} image arrays" if is_list else "a single image array"
            raise InputError(f"got {len(rates)} frame rates for {what}; give one frame rate, or a list "
                             "with one rate per image array")
        return [check_frame_rate(r, f"frame_rate[{i}]") for i, r in enumerate(rates)]
    return [check_frame_rate(frame_rate)] * n_items


def _check_image_array(image, where: str) -> np.ndarray:
    """Every check of openl3's ``_preprocess_image_batch`` (plus dtype / NaN); returns (N, H, W, 3)."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"{where} must be a numpy array (or a list of them), got {type(image).__name__}")
    if image.dtype == bool or not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise InputError(f"{where} has dtype {image.dtype}; expected an integer (e.g. uint8) or float array")
    if image.size == 0:
        raise InputError(f"{where} is empty (shape {image.shape})")
    if image.ndim == 3:
        image = image[np.newaxis]
    elif image.ndim != 4:
        hint = (" — for a grayscale image, repeat it: np.repeat(image[..., None], 3, axis=-1)"
                if image.ndim == 2 else "")
        raise InputError(f"{where} has {image.ndim} dimensions {image.shape}; expected (height, width, 3) or "
                         f"(n, height, width, 3){hint}")
    channels = image.shape[-1]
    if channels != 3:
        if channels == 4:
            hint = "; it looks like RGBA — drop the alpha channel: image[..., :3]"
        elif channels == 1:
            hint = "; for grayscale, repeat the channel: np.repeat(image, 3, axis=-1)"
        else:
            hint = ""
        raise InputError(f"{where} has {channels} channels in its last axis (shape {image.shape}); expected 3 "
                         f"(RGB, channels last){hint}")
    height, width = image.shape[1:3]
    if min(height, width) < SIZE:
        raise InputError(f"{where} is {height}x{width} pixels; both sides must be at least {SIZE}")
    if np.issubdtype(image.dtype, np.floating) and not np.all(np.isfinite(image)):
        bad = int(image.size - np.count_nonzero(np.isfinite(image)))
        raise InputError(f"{where} contains {bad} NaN or infinite value(s)")
    if not np.any(image):
        warnings.warn(f"{where} is all zeros", KaudioWarning, stacklevel=4)
    return image


# ----------------------------------------------------------------------------------------------
# Preprocessing


def _img_as_float(frame: np.ndarray) -> np.ndarray:
    """skimage ``img_as_float`` (what ``rescale(preserve_range=False)`` applies first): unsigned
    ints → x / max in float64, signed ints → x / max clipped at −1, floats unchanged."""
    if np.issubdtype(frame.dtype, np.integer):
        out = np.multiply(frame, 1.0 / np.iinfo(frame.dtype).max, dtype=np.float64)
        if np.issubdtype(frame.dtype, np.signedinteger):
            np.maximum(out, -1.0, out=out)
        return out
    return frame.astype(np.float32) if frame.dtype == np.float16 else frame


def _rescale(frame: np.ndarray, scale: float) -> np.ndarray:
    """Bilinear rescale of one (H, W, 3) frame like ``skimage.transform.rescale(frame, scale, order=1,
    mode="constant", anti_aliasing=False, preserve_range=False)``.

    Output size ``round(scale · H) × round(scale · W)``; each axis maps output pixel centres onto
    input pixel centres (``x_in = (x_out + 0.5) · in/out − 0.5``, per-axis factor from the rounded
    size). This is ``scipy.ndimage.zoom(order=1, mode="grid-constant", grid_mode=True)``, which is
    the call scikit-image ≥ 0.19 makes inside ``rescale``: the result is bit-identical to
    scikit-image 0.24's (checked on daisy.jpg and random uint8 / int16 / float32 / float64 images;
    the test compares them when skimage is importable, and always compares with an independent
    numpy bilinear). Older skimage (≤ 0.18: ``warp`` with the same affine map) should agree to
    float rounding (~1e-7; not checked). Only downscaling happens here (scale < 1), so all samples are interior and the
    constant-mode border never contributes.
    """
    from scipy import ndimage

    frame = _img_as_float(frame)
    height, width = frame.shape[:2]
    out_h = max(int(np.round(scale * height)), 1)
    out_w = max(int(np.round(scale * width)), 1)
    return ndimage.zoom(frame, (out_h / height, out_w / width, 1.0), order=1, mode="grid-constant", cval=0.0,
                        grid_mode=True, prefilter=False)


def _center_crop(frames: np.ndarray) -> np.ndarray:
    """Central 224×224 crop of (N, H, W, C) (or (H, W, C)); start = size // 2 − 112 (a view)."""
    height, width = frames.shape[-3:-1]
    top, left = height // 2 - SIZE // 2, width // 2 - SIZE // 2
    return frames[..., top: top + SIZE, left: left + SIZE, :]


def _to_unit_range(images: np.ndarray) -> np.ndarray:
    """openl3's value mapping of an un-resized batch: floats cast to float32, signed ints
    ``img_as_float32`` (x / max, clipped at −1), unsigned ints 2 · x / max − 1 (float32 arithmetic)."""
    if np.issubdtype(images.dtype, np.floating):
        return images.astype(np.float32)
    compute = np.float32 if images.dtype.itemsize <= 2 else np.float64
    out = np.multiply(images, 1.0 / np.iinfo(images.dtype).max, dtype=compute)
    if np.issubdtype(images.dtype, np.signedinteger):
        np.maximum(out, -1.0, out=out)
    else:
        out = 2 * out - 1
    return out.astype(np.float32, copy=False)


def _abs_max(values: np.ndarray) -> np.float32:
    """max |x| as float32 (the batch maximum openl3 divides by), without a full float copy."""
    high, low = values.max(), values.min()
    return np.float32(max(abs(float(high)), abs(float(low))))


class PreparedImages:
    """One image batch after validation and cropping; model input is produced slice by slice.

    ``get(start, stop)`` returns exactly the rows ``preprocess_images`` would return, but a batch
    that only needs cropping (e.g. 256×256 video frames) stays in its own dtype until then, so a
    long video never exists as one float32 array.
    """

    def __init__(self, images, where: str = "image"):
        images = _check_image_array(images, where)
        height, width = images.shape[1:3]
        if (height, width) == (SIZE, SIZE):
            # Not resized: openl3 maps the original dtype ([-1, 1] for uint8 — the reference quirk).
            self._data = _to_unit_range(images)
            self._raw = False
        elif min(height, width) > RESCALE_SIDE:
            # Rescaled with preserve_range=False: integer images end up in [0, 1].
            scale = RESCALE_SIDE / min(height, width)  # once for the batch, like openl3
            self._data = np.empty((len(images), SIZE, SIZE, 3), np.float32)
            for index, frame in enumerate(images):
                self._data[index] = _center_crop(_rescale(frame, scale))
            self._raw = False
        else:
            # Cropped only: raw pixel values (0-255 for uint8), later divided by the batch max.
            self._data = _center_crop(images)
            self._raw = True
        peak = _abs_max(self._data)
        self._divisor = peak if peak > 1 else None

    def __len__(self) -> int:
        return len(self._data)

    def get(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        block = self._data[start:stop]
        if self._raw:
            # float64 first, like openl3's float64 batch array, then float32 (img_as_float32).
            block = block.astype(np.float64).astype(np.float32)
        if self._divisor is not None:
            block = block / self._divisor
        return np.ascontiguousarray(block, dtype=np.float32)


def preprocess_images(images) -> np.ndarray:
    """Turn (H, W, 3) or (N, H, W, 3) images into L3 image-network input (N, 224, 224, 3) float32.

    Follows openl3's ``_preprocess_image_batch`` (``marl/openl3`` ``openl3/core.py``):

    1. Errors (:class:`~kaudio.errors.InputError`): not an array, non-numeric dtype, empty, ndim not
       3 or 4, last axis ≠ 3 (RGBA: drop alpha with ``image[..., :3]``), smaller side < 224,
       NaN / inf. :class:`~kaudio.errors.KaudioWarning` if all zeros.
    2. A 224×224 batch is not resized. Otherwise, if the smaller side is > 256, every image is
       rescaled bilinearly (no anti-aliasing) by ``256 / min(H, W)`` (one factor for the batch;
       values go to [0, 1] for integer images, as skimage's ``rescale`` does) — see
       :func:`_rescale` for how closely this matches skimage; then the central 224×224 crop is
       taken (start = size // 2 − 112). Images with smaller side ≤ 256 are only cropped, keeping
       their raw values (0–255 for uint8).
    3. Values: an un-resized batch maps floats by casting, signed ints to [−1, 1] (x / max),
       unsigned ints to [−1, 1] (2 · x / max − 1). Finally, if max |x| > 1, the whole batch is
       divided by its max |x|.

    The quirk that follows (kept on purpose, since the pretrained weights were used this way): a
    224×224 uint8 image ends up in **[−1, 1]**, a larger one in **[0, 1]**.
    """
    return PreparedImages(images, "image").get()


# ----------------------------------------------------------------------------------------------
# Inference


def _segments(sizes: Sequence[int], batch_size: int) -> Iterator[list[tuple[int, int, int]]]:
    """Split items of ``sizes`` rows into batches of ``batch_size`` rows: lists of (item, start, stop)."""
    group, filled = [], 0
    for item, size in enumerate(sizes):
        start = 0
        while start < size:
            take = min(batch_size - filled, size - start)
            group.append((item, start, start + take))
            filled += take
            start += take
            if filled == batch_size:
                yield group
                group, filled = [], 0
    if group:
        yield group


def run_image_model(keras_model, prepared: Sequence[PreparedImages], batch_size: int,
                    verbose: bool = False) -> list[np.ndarray]:
    """Embed several prepared batches in shared inference batches; one (n_i, D) array per item.

    Uses the model's single compiled inference function (unknown batch axis, so no retracing).
    """
    import keras

    from kaudio.embedding.inference import predict_function
    from kaudio.progress import Progress

    fn = predict_function(keras_model)
    dim = keras_model.outputs[0].shape[-1]
    sizes = [len(p) for p in prepared]
    outputs = [np.empty((n, dim), np.float32) for n in sizes]
    progress = Progress(sum(sizes), "embedding", "image") if verbose and sum(sizes) else None
    for group in _segments(sizes, batch_size):
        parts = [prepared[item].get(start, stop) for item, start, stop in group]
        batch = parts[0] if len(parts) == 1 else np.concatenate(parts)
        result = keras.ops.convert_to_numpy(fn(batch))
        row = 0
        for item, start, stop in group:
            outputs[item][start:stop] = result[row: row + stop - start]
            row += stop - start
        if progress is not None:
            progress.add(len(batch))
    if progress is not None:
        progress.close()
    return outputs


def _image_model(model: str, embedding_size, weights):
    model_info(model, modality="image")
    return load_embedding_model(model, embedding_size, weights)


def embed_image(images, frame_rate=None, model: str = DEFAULT_IMAGE_MODEL, embedding_size: int = 8192,
                batch_size: int = 32, verbose: bool = False, weights: "str | os.PathLike | None" = PRETRAINED):
    """Embed images like ``openl3.get_image_embedding``.

    Args:
        images: (H, W, 3) or (N, H, W, 3) array (any integer or float dtype), or a list of those.
            Each array is preprocessed as one batch (:func:`preprocess_images`); the arrays of a
            list share inference batches.
        frame_rate: ``None`` (no timestamps), frames per second, or — for a list — one rate per
            array. Unlike openl3, which applies the *last* rate of a list to every item, each rate
            here applies to its own array.
        model: an image model name (``openl3_image_{linear,mel128,mel256}_{music,env}``).
        embedding_size: 8192 or 512.
        batch_size: images per forward pass.
        verbose: show a progress bar.
        weights: ``"pretrained"``, a weight file, or ``None`` (random weights).

    Returns:
        ``embedding`` (N, D) float32 when ``frame_rate`` is None, else ``(embedding, timestamps)``
        with ``timestamps = arange(N) / frame_rate``; for list input, lists of those.
    """
    is_list = isinstance(images, (list, tuple))
    if not is_list and not isinstance(images, np.ndarray):
        raise InputError(f"images must be a numpy array or a list of numpy arrays, got {type(images).__name__}")
    items = list(images) if is_list else [images]
    if not items:
        raise InputError("images is an empty list")
    rates = _frame_rates(frame_rate, len(items), is_list)
    batch_size = check_batch_size(batch_size)
    keras_model = _image_model(model, embedding_size, weights)
    names = [f"images[{i}]" for i in range(len(items))] if is_list else ["image"]
    prepared = [PreparedImages(item, name) for item, name in zip(items, names)]
    embeddings = run_image_model(keras_model, prepared, batch_size, verbose)
    if frame_rate is None:
        return embeddings if is_list else embeddings[0]
    stamps = [np.arange(len(e)) / rate for e, rate in zip(embeddings, rates)]
    return (embeddings, stamps) if is_list else (embeddings[0], stamps[0])


# ----------------------------------------------------------------------------------------------
# Files


def _check_readable(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    return path


def read_image(path: "str | os.PathLike") -> np.ndarray:
    """Read an image file with Pillow as an (H, W, 3) array in its stored dtype (uint8 usually).

    Alpha is dropped (like openl3's reader); grayscale (8/16/32-bit, float) is repeated to three
    channels; palette, CMYK, YCbCr … are converted to RGB. Multi-frame files give their first frame.
    EXIF orientation is not applied (neither does openl3's ``skimage.io.imread``).
    """
    from PIL import Image, UnidentifiedImageError

    path = _check_readable(path)
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("RGB", "RGBA", "RGBX", "RGBa"):
                array = np.asarray(img)[..., :3]
            elif mode in ("L", "I", "F") or mode.startswith("I;16"):
                array = np.asarray(img)
            elif mode in ("LA", "La"):
                array = np.asarray(img)[..., 0]
            elif mode == "1":
                array = np.asarray(img.convert("L"))
            else:
                array = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise InputError(f"{path}: cannot read image ({type(err).__name__}: {err})") from err
    if array.ndim == 2:
        array = np.repeat(array[..., np.newaxis], 3, axis=-1)
    return np.ascontiguousarray(array)


def embed_image_file(paths: "str | os.PathLike | Sequence[str | os.PathLike]", output_dir=None,
                     suffix: str | None = None, overwrite: bool = False, model: str = DEFAULT_IMAGE_MODEL,
                     embedding_size: int = 8192, batch_size: int = 32, verbose: bool = False,
                     weights: "str | os.PathLike | None" = PRETRAINED) -> list[Path]:
    """Embed image files and write one ``.npz`` per input (key ``embedding``, shape (1, D)).

    Output names follow openl3 (:func:`~kaudio.embedding.output.output_path`): ``<base>.npz``, or
    ``<base>_<suffix>.npz`` (``<base><suffix>.npz`` when the suffix starts with "."), in
    ``output_dir`` or beside the input. Writes are atomic and record the settings
    (:mod:`kaudio.embedding.settings`). An existing output made with the same settings is skipped
    (with a :class:`~kaudio.errors.KaudioWarning`) unless ``overwrite``; one made with other
    settings raises :class:`~kaudio.errors.OutputError`. Colliding output names and unwritable
    folders are refused before any work. Files are grouped into
    shared inference batches of ``batch_size`` images. A missing or unreadable file raises
    :class:`~kaudio.errors.InputError` naming it (outputs of the files before it are written first).

    Returns:
        The output path of every input, in order.
    """
    from kaudio.embedding.output import check_paths, plan_outputs
    from kaudio.embedding.settings import existing_output_matches, image_settings

    paths = check_paths(paths)
    settings = image_settings(model, embedding_size, weights)
    batch_size = check_batch_size(batch_size)
    targets = [output_path(path, suffix, output_dir) for path in paths]
    plan = plan_outputs([(path, [target]) for path, target in zip(paths, targets)], output_dir)
    keras_model = _image_model(model, embedding_size, weights)
    pending: list[tuple[Path, PreparedImages]] = []

    def flush():
        if pending:
            embeddings = run_image_model(keras_model, [p for _, p in pending], batch_size, verbose)
            for (out, _), embedding in zip(pending, embeddings):
                save_npz_atomic(out, settings, embedding=embedding)
            pending.clear()

    for item in plan.inputs:
        out = item.targets[0]
        if not overwrite and existing_output_matches(out, settings, "overwrite=True"):
            warnings.warn(f"{out} exists with the same settings; skipped {item.source} (overwrite=True recomputes it)",
                          KaudioWarning, stacklevel=2)
            continue
        try:
            pending.append((out, PreparedImages(read_image(item.source), str(item.source))))
        except InputError:
            flush()
            raise
        if sum(len(p) for _, p in pending) >= batch_size:
            flush()
    flush()
    return targets
