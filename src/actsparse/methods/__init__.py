"""The methods that make a model sparse, or try to: dense baseline, retrofits, relufication
and its schedules, from-scratch controls, pruning, and the frontier that picks the best."""
