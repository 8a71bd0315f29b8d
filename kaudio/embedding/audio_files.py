"""Audio files → embeddings, streamed in chunks (``kaudio.embed_file``).

Decoding uses libsndfile through soundfile (WAV, FLAC, OGG/Vorbis, MP3 and the other formats it
reads). A file is read in blocks of ``CHUNK_SECONDS``, mixed to mono, resampled and framed as it
arrives, so peak memory is bounded by one block, one batch and the embeddings — not by the file.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from kaudio.audio_io import AudioFileReader
from kaudio.embedding.audio import CHUNK_SECONDS  # noqa: F401  (named by the module doc and tests)
from kaudio.embedding.audio import check_hop_size, stream_windows
from kaudio.embedding.framing import timestamps
from kaudio.embedding.inference import BatchRunner
from kaudio.embedding.models import DEFAULT_AUDIO_MODEL, PRETRAINED, load_embedding_model, model_info
from kaudio.embedding.output import output_path, save_npz_atomic
from kaudio.embedding.validation import check_batch_size
from kaudio.errors import KaudioWarning

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".opus")


def embed_audio_file(path, model: str = DEFAULT_AUDIO_MODEL, embedding_size: int = 6144, hop_size: float = 0.1,
                     center: bool = True, batch_size: int = 32, verbose: bool = False,
                     weights: "str | os.PathLike | None" = PRETRAINED) -> tuple[np.ndarray, np.ndarray]:
    """Embed one audio file (streamed); returns ``(embedding, timestamps)`` like :func:`kaudio.embed`."""
    model_info(model, modality="audio")
    keras_model = load_embedding_model(model, embedding_size, weights)
    rate, window = keras_model.spec.input["sample_rate"], keras_model.spec.input["samples"]
    hop = check_hop_size(hop_size, rate)
    reader = AudioFileReader(path)
    stream = stream_windows(reader.blocks(), reader.frames, reader.sample_rate, rate, window, hop, center, str(path))
    (embedding,) = BatchRunner(keras_model, check_batch_size(batch_size), verbose=verbose).run_streams([stream])
    return embedding, timestamps(len(embedding), hop_size)


def embed_audio_file_fast(path, model: str = DEFAULT_AUDIO_MODEL, embedding_size: int = 6144, hop_size: float = 0.1,
                          center: bool = True, batch_size: int = 32, verbose: bool = False,
                          weights: "str | os.PathLike | None" = PRETRAINED) -> tuple[np.ndarray, np.ndarray]:
    """Fast mode for a file (see :mod:`kaudio.embedding.fast`): decodes the whole file, one pass."""
    from kaudio.embedding.audio import embed

    reader = AudioFileReader(path)
    audio = np.concatenate([block for block, _ in reader.blocks()])
    return embed(audio, reader.sample_rate, model=model, embedding_size=embedding_size, hop_size=hop_size,
                 center=center, batch_size=batch_size, verbose=verbose, weights=weights, mode="fast")


def embed_file(paths: "str | os.PathLike | Sequence[str | os.PathLike]", output_dir=None, suffix: str | None = None,
               overwrite: bool = False, model: str = DEFAULT_AUDIO_MODEL, embedding_size: int = 6144,
               hop_size: float = 0.1, center: bool = True, batch_size: int = 32, verbose: bool = False,
               weights: "str | os.PathLike | None" = PRETRAINED, mode: str = "exact") -> list[Path]:
    """Embed audio files and write one ``.npz`` per input (keys ``embedding``, ``timestamps`` and
    the settings of :mod:`kaudio.embedding.settings`).

    Output names follow openl3: ``<base>.npz``, or ``<base>_<suffix>.npz`` (``<base><suffix>.npz`` if
    the suffix starts with "."), in ``output_dir`` or beside the input. Before any file is embedded
    the arguments are validated, two inputs that would write the same file are refused (naming
    both), and the output folders are created and checked writable. Writes are atomic. An existing
    output made with the same settings is skipped (with a :class:`~kaudio.errors.KaudioWarning`);
    one made with other settings, or with none recorded, raises :class:`~kaudio.errors.OutputError`
    naming the difference, unless ``overwrite``. The first file that cannot be read raises
    :class:`~kaudio.errors.InputError` naming it (the CLI reports and continues).

    The other arguments are those of :func:`kaudio.embed` (``mode="fast"`` decodes each file whole).

    Returns:
        The output path of every input, in order.
    """
    from kaudio.embedding.output import check_paths, plan_outputs
    from kaudio.embedding.settings import audio_settings, existing_output_matches

    paths = check_paths(paths)
    settings = audio_settings(model, embedding_size, hop_size, center, mode, weights)
    check_batch_size(batch_size)
    targets = [output_path(path, suffix, output_dir) for path in paths]
    embed_one = embed_audio_file_fast if mode == "fast" else embed_audio_file
    for item in plan_outputs([(path, [target]) for path, target in zip(paths, targets)], output_dir).inputs:
        out = item.targets[0]
        if not overwrite and existing_output_matches(out, settings, "overwrite=True"):
            warnings.warn(f"{out} exists with the same settings; skipped {item.source} (overwrite=True recomputes it)",
                          KaudioWarning, stacklevel=2)
            continue
        embedding, ts = embed_one(item.source, model=model, embedding_size=embedding_size, hop_size=hop_size,
                                  center=center, batch_size=batch_size, verbose=verbose, weights=weights)
        save_npz_atomic(out, settings, embedding=embedding, timestamps=ts)
    return targets

