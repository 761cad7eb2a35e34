"""Learned models: the SyntheOcc MPI encoder, cross-view attention and loss reweighing (diffusers-based)."""
