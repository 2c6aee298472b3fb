"""Text path: Gemma 3 hidden states -> LTX text features (-> connectors), with a per-run prompt cache."""
