"""Model inputs (spec section ``input``): what one example looks like before the front end."""
from __future__ import annotations

import keras

from kaudio.registry import register
from kaudio.spec.schema import Field, Schema


@register("input", "audio")
class AudioInput:
    """A fixed-length waveform ``(samples, channels)``, channels-last, float in [−1, 1].

    Give ``duration`` (seconds) or ``samples``; the validated spec always carries both.
    """

    spec_schema = Schema((
        Field("sample_rate", int, doc="samples per second", minimum=1),
        Field("duration", float, None, "seconds per example", minimum=0, exclusive_minimum=True, nullable=True),
        Field("samples", int, None, "samples per example", minimum=1, nullable=True),
        Field("channels", int, 1, "audio channels", minimum=1),
    ))

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        sr, duration, samples = params["sample_rate"], params["duration"], params["samples"]
        if duration is None and samples is None:
            return [("", "give either `duration` (seconds) or `samples`")]
        if samples is None:
            exact = duration * sr
            if abs(exact - round(exact)) > 1e-6:
                return [("duration", f"{duration} s at {sr} Hz is {exact} samples, not a whole number; give `samples` instead")]
            params["samples"] = int(round(exact))
        elif duration is None:
            params["duration"] = samples / sr
        elif abs(duration * sr - samples) > 0.5:
            return [("samples", f"{samples} samples disagree with duration {duration} s at {sr} Hz ({duration * sr:g}); give only one")]
        return []

    @staticmethod
    def shape(params: dict) -> tuple:
        return (params["samples"], params["channels"])

    @classmethod
    def make(cls, params: dict, name: str = "audio") -> keras.KerasTensor:
        return keras.Input(shape=cls.shape(params), name=name)

    @staticmethod
    def describe(params: dict) -> str:
        ch = params["channels"]
        return (f"({params['samples']}, {ch}) — {params['duration']:g} s at {params['sample_rate']} Hz, "
                f"{ch} channel{'s' if ch != 1 else ''}")


@register("input", "image")
class ImageInput:
    """An image ``(height, width, channels)``, channels-last (L3 vision network: 224×224×3)."""

    spec_schema = Schema((
        Field("height", int, 224, minimum=1),
        Field("width", int, 224, minimum=1),
        Field("channels", int, 3, minimum=1),
    ))

    @staticmethod
    def shape(params: dict) -> tuple:
        return (params["height"], params["width"], params["channels"])

    @classmethod
    def make(cls, params: dict, name: str = "image") -> keras.KerasTensor:
        return keras.Input(shape=cls.shape(params), name=name)

    @staticmethod
    def describe(params: dict) -> str:
        return f"({params['height']}, {params['width']}, {params['channels']}) image"
