"""Recording FFN activations of a model on real bytes, for kernels and analyses that need
the actual patterns (which neurons fire together, byte after byte), not just their rate."""

from __future__ import annotations

import numpy as np
import torch

from actsparse.evaluate import windows_tensor
from actsparse.model import ByteGPT, capture


@torch.no_grad()
def record_ffn_inputs(model: ByteGPT, data: np.ndarray, starts: np.ndarray) -> list[torch.Tensor]:
    """Per layer, [bytes, F]: the input of the down projection for every byte of the windows."""
    model.eval()
    w = windows_tensor(data, starts, model.cfg.block_size)
    with capture(model, ("ffn_post",)) as acts:
        model(w[:, :-1])
    return [a.reshape(-1, a.shape[-1]).float().contiguous() for a in acts["ffn_post"]]
