"""Real-scene data: nuScenes and Occ3D readers that produce a World, and a synthetic nuScenes-format writer."""
