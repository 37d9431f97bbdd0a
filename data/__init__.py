"""tf.data rebuilt on PyTorch (filled in by the Dataset engine)."""
