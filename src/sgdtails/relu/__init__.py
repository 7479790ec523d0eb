"""Part II: a single ReLU gate. The data law, SGD and the Karmakar-Mukherjee variant, the exact reduced
sampler for Gaussian inputs, and the variant's exact (Kesten) tail index."""
