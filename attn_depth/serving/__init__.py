"""Serving: loading, inference, presets and the model card, export, DepthEstimator."""
