"""Tiny random stand-ins for pretrained models, built from transformers' config classes:
a Llama (SwiGLU, RMSNorm, RoPE, GQA) and a GPT-2 (GELU MLP, LayerNorm) with a byte-level
tokenizer (every byte a token, no merges). The tests and the smoke workflow
(`pretrained.source: {kind: tiny}`) run every pretrained stage on them, with no download;
they are saved and read back as Hugging Face directories like any model a user brings."""

from __future__ import annotations

from pathlib import Path

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


def write_tiny(directory: str | Path, family: str = "llama", seed: int = 0) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    tok = byte_tokenizer()
    vocab = len(tok)
    if family == "llama":
        cfg = LlamaConfig(
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
        model = LlamaForCausalLM(cfg)
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
