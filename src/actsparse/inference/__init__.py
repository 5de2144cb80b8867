"""Running sparse models fast: the C++ kernels (csrc/), their benchmark, the decode engine
and measured speculative decoding."""
