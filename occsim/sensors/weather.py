"""Weather as image formation: scene illumination for the ray caster plus image-space effects (a registry)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from occsim.registry import Registry
from occsim.types import Weather

KOSCHMIEDER = 3.912  # ln(1 / 0.02): contrast threshold of 2 % at the visibility distance


@dataclass(frozen=True)
class Illumination:
    """Lighting the ray caster shades with; colours are linear RGB in [0, 1]."""

    sky_top: tuple[float, float, float] = (0.33, 0.52, 0.82)
    sky_horizon: tuple[float, float, float] = (0.74, 0.81, 0.9)
    sun_direction: tuple[float, float, float] = (0.45, 0.35, 0.82)  # towards the sun, world frame
    sun_color: tuple[float, float, float] = (0.72, 0.69, 0.62)
    ambient: tuple[float, float, float] = (0.42, 0.44, 0.48)
    snow_cover: float = 0.0  # [0, 1] whitening of up-facing surfaces
    wetness: float = 0.0  # [0, 1] darker, reflective road
    headlights: float = 0.0  # ego headlight strength
    street_lamps: float = 0.0  # street lamp strength

    def as_array(self) -> np.ndarray:
        """Packed float64 vector for the numba kernel."""
        sun = np.asarray(self.sun_direction, dtype=np.float64)
        sun = sun / np.linalg.norm(sun)
        return np.concatenate(
            [
                self.sky_top,
                self.sky_horizon,
                sun,
                self.sun_color,
                self.ambient,
                [self.snow_cover, self.wetness, self.headlights, self.street_lamps],
            ]
        ).astype(np.float64)


class WeatherModel:
    """Clear daylight; subclasses change the illumination and add effects after shading."""

    def __init__(self, spec: Weather):
        self.spec = spec

    def illumination(self) -> Illumination:
        """Lighting for the ray caster."""
        return Illumination()

    def apply(self, rgb: np.ndarray, distance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Image-space effects on linear float RGB (N, H, W, 3) given ray distances (N, H, W) [m, inf for sky]."""
        return rgb


def koschmieder(rgb: np.ndarray, distance: np.ndarray, visibility: float, airlight: np.ndarray) -> np.ndarray:
    """I = J t + A (1 - t), t = exp(-3.912 d / visibility); sky (d = inf) becomes airlight."""
    t = np.exp(-KOSCHMIEDER * np.minimum(distance, 1e4) / visibility).astype(np.float32)[..., None]
    return rgb * t + np.asarray(airlight, dtype=np.float32) * (1.0 - t)


WEATHERS: Registry[type[WeatherModel]] = Registry("weather")
register_weather = WEATHERS.register


def make_weather(spec: Weather) -> WeatherModel:
    """The model for ``spec``; ValueError with a did-you-mean for unknown kinds."""
    return WEATHERS[spec.kind](spec)


register_weather("clear")(WeatherModel)


@register_weather("fog")
class Fog(WeatherModel):
    """Koschmieder fog with white-grey airlight; default visibility 40 m."""

    airlight = np.array([0.78, 0.8, 0.82], dtype=np.float32)

    @property
    def visibility(self) -> float:
        """Meteorological visibility [m]."""
        return self.spec.visibility or 40.0

    def illumination(self) -> Illumination:
        """Overcast: no direct sun, bright diffuse light."""
        return Illumination(
            sky_top=tuple(self.airlight),
            sky_horizon=tuple(self.airlight),
            sun_color=(0.15, 0.15, 0.15),
            ambient=(0.7, 0.7, 0.72),
        )

    def apply(self, rgb: np.ndarray, distance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Attenuate with distance towards the airlight."""
        return koschmieder(rgb, distance, self.visibility, self.airlight)


@register_weather("sandstorm")
class Sandstorm(Fog):
    """Koschmieder with ochre airlight and a warm cast; default visibility 60 m."""

    airlight = np.array([0.74, 0.58, 0.36], dtype=np.float32)

    @property
    def visibility(self) -> float:
        """Meteorological visibility [m]."""
        return self.spec.visibility or 60.0

    def apply(self, rgb: np.ndarray, distance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Ochre haze plus a warm colour cast on everything."""
        tinted = rgb * np.array([1.0, 0.88, 0.7], dtype=np.float32)
        return koschmieder(tinted, distance, self.visibility, self.airlight)


def _streaks(shape: tuple[int, int], count: int, length: float, angle: float, rng: np.random.Generator) -> np.ndarray:
    """A (H, W) float32 mask of thin slanted line segments, ``length`` in pixels."""
    h, w = shape
    mask = np.zeros((h, w), dtype=np.float32)
    xs, ys = rng.uniform(0, w, count), rng.uniform(0, h, count)
    lens = length * rng.uniform(0.5, 1.0, count)
    for x, y, n in zip(xs, ys, lens):
        dx, dy = n * np.sin(angle), n * np.cos(angle)
        cv2.line(mask, (int(x), int(y)), (int(x + dx), int(y + dy)), float(rng.uniform(0.3, 0.8)), 1, cv2.LINE_AA)
    return mask


@register_weather("rain")
class Rain(WeatherModel):
    """Dark overcast sky, lowered contrast, streaks and a wet, reflective road; intensity default 0.6."""

    @property
    def intensity(self) -> float:
        """Rain strength in [0, 1]."""
        return 0.6 if self.spec.intensity is None else self.spec.intensity

    def illumination(self) -> Illumination:
        """Darkened sky and weak sun."""
        i = self.intensity
        grey = 0.55 - 0.2 * i
        return Illumination(
            sky_top=(grey * 0.85, grey * 0.88, grey * 0.95),
            sky_horizon=(grey, grey, grey * 1.03),
            sun_color=(0.2 * (1 - i),) * 3,
            ambient=(0.45 - 0.1 * i,) * 3,
            wetness=0.4 + 0.6 * i,
        )

    def apply(self, rgb: np.ndarray, distance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Haze that grows with intensity, then streaks per camera."""
        i = self.intensity
        out = koschmieder(rgb, distance, 900.0 - 700.0 * i, np.array([0.5, 0.52, 0.55], dtype=np.float32))
        h, w = out.shape[1:3]
        count = int(200 + 1400 * i) * h * w // (256 * 448)
        for cam in range(out.shape[0]):
            mask = _streaks((h, w), count, 0.08 * h, 0.2, rng)[..., None]
            out[cam] = out[cam] * (1 - 0.5 * mask) + 0.75 * 0.5 * mask
        return out


@register_weather("snow")
class Snow(WeatherModel):
    """White ground and roofs, grey sky, falling flakes; intensity default 0.6."""

    @property
    def intensity(self) -> float:
        """Snowfall strength in [0, 1]."""
        return 0.6 if self.spec.intensity is None else self.spec.intensity

    def illumination(self) -> Illumination:
        """Bright overcast and snow cover on up-facing surfaces."""
        return Illumination(
            sky_top=(0.7, 0.72, 0.76),
            sky_horizon=(0.82, 0.83, 0.85),
            sun_color=(0.2, 0.2, 0.2),
            ambient=(0.62, 0.63, 0.66),
            snow_cover=0.55 + 0.45 * self.intensity,
        )

    def apply(self, rgb: np.ndarray, distance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Whitish haze, then flakes of a few sizes per camera."""
        i = self.intensity
        out = koschmieder(rgb, distance, 600.0 - 450.0 * i, np.array([0.85, 0.86, 0.88], dtype=np.float32))
        h, w = out.shape[1:3]
        count = int(150 + 900 * i) * h * w // (256 * 448)
        for cam in range(out.shape[0]):
            mask = np.zeros((h, w), dtype=np.float32)
            for x, y, r in zip(rng.uniform(0, w, count), rng.uniform(0, h, count), rng.uniform(0.5, 2.2, count)):
                cv2.circle(mask, (int(x), int(y)), max(1, int(round(r * h / 256))), 0.9, -1, cv2.LINE_AA)
            out[cam] = out[cam] * (1 - mask[..., None]) + 0.95 * mask[..., None]
        return out


@register_weather("night")
class Night(WeatherModel):
    """Low ambient light, the ego's headlight cone, street lamps and sensor noise."""

    def illumination(self) -> Illumination:
        """Dark sky, no sun, artificial lights on."""
        return Illumination(
            sky_top=(0.01, 0.015, 0.04),
            sky_horizon=(0.04, 0.045, 0.07),
            sun_color=(0.0, 0.0, 0.0),
            ambient=(0.025, 0.027, 0.035),
            headlights=1.0,
            street_lamps=1.0,
        )

    def apply(self, rgb: np.ndarray, distance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Photon noise of a camera at high gain."""
        return rgb + rng.normal(0.0, 0.012, size=rgb.shape).astype(np.float32)
