"""Pretrained LLMs through the same stages as the byte model: where a model comes from
(source), the loaded model and what the stages do to it (lm), text metrics on the bpb axis
(text), and zero-shot multiple choice (zeroshot)."""
