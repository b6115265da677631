"""Reference model definitions (random weights, no downloads): a Llama-3-style decoder for
inference and a GPT-2-style model for training. Importing this package imports torch."""
