"""Training: the loop, optimisers and schedules, checkpoints, run directories, distribution."""
