"""What we measure: exact-zero sparsity and its relatives, and FLOPs per byte."""
