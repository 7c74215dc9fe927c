"""Metrics, classical baselines and rate–distortion evaluation."""
