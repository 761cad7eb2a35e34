"""diffusers pipelines: SyntheOcc and OccScene, their conditioning (MPIs, frustum lookups) and prompts."""
