"""What a chapter runs when a run is too slow for the notebook: sweeps whose results are stored under notebooks/results/."""
