import math

import pytest
import torch

from actsparse.core.model import ByteGPT, capture
from tests.conftest import tiny_config


def test_forward_gives_logits_over_256_bytes(tiny_model):
    x = torch.randint(0, 256, (3, 17))
    assert tiny_model(x).shape == (3, 17, 256)


def test_sequence_longer_than_context_is_rejected(tiny_model):
    with pytest.raises(ValueError, match="exceeds block_size"):
        tiny_model(torch.zeros(1, 33, dtype=torch.long))


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="activation"):
        tiny_config(activation="swish")


@pytest.mark.parametrize("activation", ["gelu", "relu", "shifted_relu", "xsigmoid"])
def test_capture_post_is_activation_of_pre(activation):
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(activation=activation, act_shift=0.1, act_beta=4.0))
    x = torch.randint(0, 256, (2, 16))
    with torch.no_grad(), capture(model, ("ffn_pre", "ffn_post")) as acts:
        model(x)
    for layer, (pre, post) in enumerate(zip(acts["ffn_pre"], acts["ffn_post"], strict=True)):
        assert pre.shape == (2, 16, 128)
        assert torch.equal(post, model.h[layer].mlp.act(pre))


def test_capture_does_not_change_output_and_removes_its_hooks(tiny_model):
    x = torch.randint(0, 256, (2, 16))
    with torch.no_grad():
        before = tiny_model(x)
        with capture(tiny_model, ("ffn_pre", "ffn_post", "qkv_in", "up_in")):
            during = tiny_model(x)
    assert torch.equal(before, during)
    assert all(not b.mlp.act._forward_hooks for b in tiny_model.h)


def test_xsigmoid_with_infinite_beta_is_relu():
    torch.manual_seed(0)
    relu = ByteGPT(tiny_config(activation="relu"))
    xsig = ByteGPT(tiny_config(activation="xsigmoid", act_beta=math.inf))
    xsig.load_state_dict(relu.state_dict())
    x = torch.randint(0, 256, (2, 16))
    with torch.no_grad():
        assert torch.equal(relu(x), xsig(x))


def test_shifted_relu_zeroes_everything_below_the_shift():
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(activation="shifted_relu", act_shift=0.05))
    with torch.no_grad(), capture(model, ("ffn_pre", "ffn_post")) as acts:
        model(torch.randint(0, 256, (2, 16)))
    pre, post = acts["ffn_pre"][0], acts["ffn_post"][0]
    assert torch.all(post[pre <= 0.05] == 0)
    assert torch.allclose(post[pre > 0.05], pre[pre > 0.05] - 0.05)


def test_norm_relu_makes_qkv_and_up_inputs_nonnegative():
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(norm_relu=True))
    with torch.no_grad(), capture(model, ("qkv_in", "up_in")) as acts:
        model(torch.randint(0, 256, (2, 16)))
    for t in acts["qkv_in"] + acts["up_in"]:
        assert t.min() >= 0 and (t == 0).float().mean() > 0.2


def test_set_activation_swaps_in_place(tiny_model):
    tiny_model.set_activation("relu")
    assert tiny_model.cfg.activation == "relu"
    with torch.no_grad(), capture(tiny_model) as acts:
        tiny_model(torch.randint(0, 256, (2, 16)))
    assert (acts["ffn_post"][0] == 0).float().mean() > 0.2


def test_mask_of_wrong_shape_or_unknown_parameter_is_rejected(tiny_model):
    with pytest.raises(ValueError, match="shape"):
        tiny_model.set_masks({"h.0.mlp.c_fc.weight": torch.ones(3, 3, dtype=torch.bool)})
    with pytest.raises(KeyError, match="unknown parameter"):
        tiny_model.set_masks({"h.9.mlp.c_fc.weight": torch.ones(3, 3, dtype=torch.bool)})


def test_set_masks_zeroes_the_masked_weights(tiny_model):
    w = tiny_model.h[0].mlp.c_fc.weight
    mask = torch.rand(w.shape) > 0.5
    tiny_model.set_masks({"h.0.mlp.c_fc.weight": mask})
    assert torch.all(w[~mask] == 0) and torch.all(w[mask] != 0)
