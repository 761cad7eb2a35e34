"""The training room: data collection, episode files, every model's training loop, losses, cards, evaluation.

Collecting planner episodes and render pairs, the SyntheOcc, OccScene, perception and vision-planner loops, their
losses and reweighing, model cards and the layout probe live here. Only the command line imports this room.
"""
