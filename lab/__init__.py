"""Laboratory-only code, not shipped (setup.py packages attn_depth* only)."""
