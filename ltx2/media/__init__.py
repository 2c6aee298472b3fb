"""Output media: sinks that receive a chain's stitched frames and audio chunk by chunk."""
