"""OccSim: closed-loop corner-case driving simulation over Occ3D occupancy worlds, as a Gymnasium plugin."""

import occsim.data.scene_builder  # noqa: F401 - registers the nuscenes map type
from occsim.envs.registration import register_envs

__version__ = "0.1.0"

register_envs()
