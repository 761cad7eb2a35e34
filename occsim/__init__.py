"""OccSim: closed-loop corner-case driving simulation over Occ3D occupancy worlds, as a Gymnasium plugin."""

from occsim.envs.registration import register_envs

__version__ = "0.1.0"

register_envs()
