"""The byte model, its training loop, evaluation, checkpoints, the corpus and the config:
what every stage stands on."""
