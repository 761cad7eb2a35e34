"""The sensors room: camera rig, semantic MPI, weather image formation and renderers."""

from occsim.sensors.blank import BlankRenderer
from occsim.sensors.mpi import build_mpi
from occsim.sensors.raster import RasterRenderer
from occsim.sensors.renderer import RENDERERS, Renderer, make_renderer, register_renderer
from occsim.sensors.weather import WEATHERS, Illumination, WeatherModel, make_weather, register_weather
from occsim.types import CameraRig

__all__ = [
    "RENDERERS",
    "WEATHERS",
    "BlankRenderer",
    "CameraRig",
    "Illumination",
    "RasterRenderer",
    "Renderer",
    "WeatherModel",
    "build_mpi",
    "make_renderer",
    "make_weather",
    "register_renderer",
    "register_weather",
]
