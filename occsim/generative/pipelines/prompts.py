"""Text prompts from the scenario's weather: the diffusion renderers' weather and style come from text."""

from __future__ import annotations

BASE = "a photorealistic street view from a car camera"
WEATHER_WORDS = {
    "clear": "daytime, clear weather",
    "fog": "dense fog, low visibility",
    "rain": "heavy rain, wet reflective road",
    "snow": "snowfall, snow on the ground",
    "night": "at night, dark, street lights",
    "sandstorm": "sandstorm, dusty orange haze",
}
WEATHER_PROMPTS = {weather: f"{BASE}, {words}" for weather, words in WEATHER_WORDS.items()}
# The one prompt the released SyntheOcc was trained and sampled with (EnVision-Research/SyntheOcc, infer.py l. 89).
OFFICIAL_PROMPT = "show a photorealistic street view image."


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


def official_prompt(weather: str, override: str | None = None) -> str:
    """The release's prompt, with the weather's words added for any weather but clear (its only training prompt)."""
    if override:
        return override
    if weather not in WEATHER_WORDS:
        raise ValueError(f"no prompt for weather '{weather}'; known: {', '.join(WEATHER_WORDS)}")
    return OFFICIAL_PROMPT if weather == "clear" else f"{OFFICIAL_PROMPT[:-1]}, {WEATHER_WORDS[weather]}."
