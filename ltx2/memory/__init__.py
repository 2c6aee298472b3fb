"""Memory on real GPUs: fp8 weights kept as fp8, per-phase residency, block streaming, and the memory planner."""
