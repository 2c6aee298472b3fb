"""Audio signal processing for LTX-2: resampling, the log-mel front end, latent-rate facts, and the codec that
joins them to the audio VAE and the vocoder."""
