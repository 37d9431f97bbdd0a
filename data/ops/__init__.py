"""One module per transformation family; ``Dataset`` methods hand off to these."""
