"""Text path: Gemma hidden states -> LTX text features (-> connectors), with a per-run prompt cache."""
