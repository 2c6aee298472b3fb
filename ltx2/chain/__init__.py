"""Chains of chunks: the schedule (what each chunk is), the plan (frame math), the runner (orchestration)."""
