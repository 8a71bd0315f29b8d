"""kaudio: audio models described by YAML specs, built as Keras 3 functional models.

    import kaudio
    model = kaudio.build("l3_m256")          # bundled spec, or a path to a YAML file
    spec = kaudio.load_spec("l3_m256", ["head.embedding_size=512"])
"""
from kaudio.version import __version__
from kaudio.errors import KaudioError, SpecError, SpecProblem

# Importing these registers every component type and custom layer.
from kaudio import inputs as _inputs  # noqa: F401
from kaudio import frontends, heads, layers, models  # noqa: F401
from kaudio import hierarchy, losses, metrics  # noqa: F401  (losses registers the `loss` types)
from kaudio.builder import build
from kaudio.card import model_card
from kaudio.embedding.audio import embed
from kaudio.embedding.audio_files import embed_file
from kaudio.embedding.image import embed_image, embed_image_file
from kaudio.embedding.video import embed_video, embed_video_file
from kaudio.embedding.models import load_embedding_model
from kaudio.models import KaudioModel
from kaudio.training import fit
from kaudio.spec import Spec, load_spec

__all__ = ["KaudioError", "KaudioModel", "Spec", "SpecError", "SpecProblem", "__version__", "build", "embed",
           "embed_file", "embed_image", "embed_image_file", "embed_video", "embed_video_file", "fit", "load_embedding_model", "load_spec", "model_card"]
