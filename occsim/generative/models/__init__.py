"""Learned modules: MPI encoder, ControlNet, cross-view and video attention, Mamba, MDA, perception, autoencoders."""
