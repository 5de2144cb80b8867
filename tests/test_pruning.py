import pytest
import torch

from actsparse.methods.pruning import magnitude_mask, prune_ffn, weight_sparsity


def test_unstructured_mask_keeps_the_largest_magnitudes():
    w = torch.tensor([[0.1, -5.0, 0.3, 2.0]])
    assert magnitude_mask(w, 0.5, "unstructured", 1).tolist() == [[False, True, False, True]]


@pytest.mark.parametrize("d", [32, 40, 7])
def test_block16_mask_is_constant_over_each_block_along_d(d):
    torch.manual_seed(0)
    w = torch.randn(24, d)  # [F, D]
    mask = magnitude_mask(w, 0.5, "block16", d_axis=1)
    for start in range(0, d, 16):
        block = mask[:, start : start + 16]
        assert torch.all(block == block[:, :1])
    assert abs(mask.float().mean().item() - 0.5) < 0.1


def test_block16_mask_follows_d_for_the_down_projection():
    torch.manual_seed(0)
    w = torch.randn(32, 8)  # c_proj.weight is [D, F]: blocks run down the columns
    mask = magnitude_mask(w, 0.5, "block16", d_axis=0)
    assert torch.all(mask[:16] == mask[:1]) and torch.all(mask[16:] == mask[16:17])


def test_block16_prunes_the_weakest_blocks():
    w = torch.ones(2, 32)
    w[0, :16] = 0.01  # the weakest block of four
    mask = magnitude_mask(w, 0.25, "block16", 1)
    assert not mask[0, :16].any() and mask[0, 16:].all() and mask[1].all()


def test_bad_ratio_and_structure_are_rejected():
    with pytest.raises(ValueError, match="ratio"):
        magnitude_mask(torch.ones(2, 2), 1.0, "unstructured", 1)
    with pytest.raises(ValueError, match="structure"):
        magnitude_mask(torch.ones(2, 2), 0.5, "2:4", 1)


@pytest.mark.parametrize("structure", ["unstructured", "block16"])
def test_prune_ffn_reaches_the_ratio_on_every_matrix(tiny_model, structure):
    masks = prune_ffn(tiny_model, 0.5, structure)
    assert len(masks) == 2 * len(tiny_model.h)
    tiny_model.set_masks(masks)
    assert weight_sparsity(tiny_model) == pytest.approx(0.5, abs=0.02)


def test_mask_structure_is_read_from_the_masks_and_picks_the_decode_paths(tiny_model):
    from actsparse.inference.decode import decode_paths
    from actsparse.methods.pruning import mask_structure, prune_ffn

    assert mask_structure(tiny_model) is None
    assert decode_paths(tiny_model) == ["dense", "sparse"]  # GELU: nothing to screen
    tiny_model.set_masks(prune_ffn(tiny_model, 0.5, "unstructured"))
    assert mask_structure(tiny_model) == "unstructured"
    tiny_model.set_masks(prune_ffn(tiny_model, 0.5, "block16"))
    assert mask_structure(tiny_model) == "block16"
    tiny_model.set_activation("relu")
    assert decode_paths(tiny_model) == ["dense", "sparse", "block_sparse", "screened"]
