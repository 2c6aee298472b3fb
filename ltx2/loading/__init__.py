"""Reading the official LTX-2 / LTX-2.3 single-file checkpoints and building components from them."""
