"""Rule pretrained_model: the configured pretrained model, fetched and verified, loaded
through transformers (a GGUF dequantised to fp32) and saved as a Hugging Face directory
that every later stage loads in seconds."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_model.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_model", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.pretrained import lm, source

torch.set_num_threads(snakemake.threads)
files = source.resolve(snakemake.params.source)
print(f"loading {files.origin} from {files.path}", file=sys.stderr)
model = lm.load(files)
print(f"{model.anatomy.family}: {len(model.blocks)} layers, {model.origin}", file=sys.stderr)
model.save(snakemake.output.model)
