"""Part I: linear regression. Designs and data sets, SGD, homogenized SGD, exact reduced samplers,
the paper's tail-index bounds, this project's radial derivation, and the exact (Kesten) index of SGD."""
