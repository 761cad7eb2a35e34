"""Text prompts from the scenario's weather: the diffusion renderers' weather and style come from text."""

from __future__ import annotations

BASE = "a photorealistic street view from a car camera"
WEATHER_PROMPTS = {
    "clear": f"{BASE}, daytime, clear weather",
    "fog": f"{BASE}, dense fog, low visibility",
    "rain": f"{BASE}, heavy rain, wet reflective road",
    "snow": f"{BASE}, snowfall, snow on the ground",
    "night": f"{BASE}, at night, dark, street lights",
    "sandstorm": f"{BASE}, sandstorm, dusty orange haze",
}


def weather_prompt(weather: str, override: str | None = None) -> str:
    """The prompt for a weather type; ``override`` (the scenario's ``weather.prompt`` or the user's) wins.

    Raises:
        ValueError: unknown weather type, with the known ones.
    """
    if override:
        return override
    if weather not in WEATHER_PROMPTS:
        raise ValueError(f"no prompt for weather '{weather}'; known: {', '.join(WEATHER_PROMPTS)}")
    return WEATHER_PROMPTS[weather]
