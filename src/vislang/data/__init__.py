"""Datasets: the example schema, readers for real formats, the synthetic world, image decoding."""
