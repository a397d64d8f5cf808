"""Training: one loop for every family (single process or torchrun/DDP), checkpoints, recipes."""
