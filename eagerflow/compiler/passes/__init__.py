"""The default pass pipeline (filled in by the optimizer)."""
