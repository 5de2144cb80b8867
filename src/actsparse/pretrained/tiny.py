"""Tiny random stand-ins for pretrained models, built from transformers' config classes:
a Llama (SwiGLU, RMSNorm, RoPE, GQA) and a GPT-2 (GELU MLP, LayerNorm) with a byte-level
tokenizer (every byte a token, no merges). The tests and the smoke workflow
(`pretrained.source: {kind: tiny}`) run every pretrained stage on them, with no download;
they are saved and read back as Hugging Face directories like any model a user brings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def byte_tokenizer():  # noqa: ANN201
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    vocab["<|endoftext|>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>"
    )


def llama_config(vocab: int, **overrides):  # noqa: ANN201 (a transformers LlamaConfig)
    """The tiny Llama's shape (SwiGLU, RMSNorm, RoPE, GQA 4/2 heads, tied head); tests vary
    it through overrides."""
    from transformers import LlamaConfig

    shape = dict(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        hidden_act="silu",
    )
    return LlamaConfig(**{**shape, **overrides})


def write_tiny(directory: str | Path, family: str = "llama", seed: int = 0) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaForCausalLM

    torch.manual_seed(seed)
    tok = byte_tokenizer()
    vocab = len(tok)
    if family == "llama":
        model = LlamaForCausalLM(llama_config(vocab))
    elif family == "gpt2":
        cfg = GPT2Config(
            vocab_size=vocab,
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_positions=128,
            bos_token_id=vocab - 1,
            eos_token_id=vocab - 1,
        )
        model = GPT2LMHeadModel(cfg)
    else:
        raise ValueError(family)
    directory = Path(directory)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def _llama_cpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's row order for a Q or K projection (RoPE's pairs interleaved), which
    transformers' GGUF loader undoes."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def write_tiny_gguf(path: str | Path, seed: int = 0, merge: bool = False) -> Path:
    """The tiny Llama written as an fp32 GGUF file with gguf's writer (tokenizer included),
    so the GGUF code path is tested without the 93 MB SmolLM2 download. Loaded back it
    gives the Hugging Face model's logits exactly."""
    import tempfile

    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        write_tiny(tmp, "llama", seed)
        hf = AutoModelForCausalLM.from_pretrained(tmp)
        tok = AutoTokenizer.from_pretrained(tmp)
    cfg = hf.config
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    w.add_vocab_size(cfg.vocab_size)
    tokens = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    w.add_tokenizer_model("gpt2")  # byte-level BPE, as SmolLM2's
    w.add_token_list(tokens)
    w.add_token_types([1] * len(tokens))
    w.add_token_scores([0.0] * len(tokens))  # no merges: every byte is a token
    if merge:  # llama.cpp refuses a BPE vocabulary without merges (transformers needs none)
        w.add_token_merges(["\u0120 \u0120"])  # never applied: llama.cpp is fed token ids
    w.add_bos_token_id(tok.bos_token_id)
    w.add_eos_token_id(tok.eos_token_id)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    for name, t in hf.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied to the embedding, as in SmolLM2's file
        a = t.detach().float().numpy()
        if name.endswith("q_proj.weight"):
            a = _llama_cpp_permute(a, cfg.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            a = _llama_cpp_permute(a, cfg.num_key_value_heads)
        w.add_tensor(names.get_name(name.removesuffix(".weight")) + ".weight", a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
