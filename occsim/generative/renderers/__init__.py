"""The diffusion renderers ``syntheocc`` and ``occscene``, registered lazily by the simulation."""
