"""Sampling: sigma schedules, conditioning by denoise mask, the Euler flow-matching loop (plain and ancestral)."""
