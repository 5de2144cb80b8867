"""RSB's analyses of a relufied model: pre-activations, aggregated sparsity, neuron reuse,
and the speculative-decoding latency model."""
