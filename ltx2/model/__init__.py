"""The LTX-2 / LTX-2.3 networks: audio+video DiT, text connectors (and later the VAEs, vocoder, upsamplers)."""
