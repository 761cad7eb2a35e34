"""The generative room: learned models, diffusers pipelines and the diffusion renderers.

``models`` holds the networks, ``pipelines`` the SyntheOcc and OccScene pipelines with their conditioning and
prompts, ``renderers`` the ``syntheocc`` and ``occscene`` renderers. Only this room and ``training`` import diffusers.
"""
