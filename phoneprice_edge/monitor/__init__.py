"""Monitoring: the prediction log, drift statistics and reports, the model registry, gated retraining."""
