"""A tiny random-weight CSM checkpoint with the real architecture, written like the hub's one.

The layout matches `sesame/csm-1b` (config.json, model.safetensors, generation_config.json,
tokenizer and processor files, chat template), so the engine loads it through the same code as the
real weights. Every dimension is shrunk except what fixes the audio format: Mimi keeps its
upsampling ratios, so one frame is still 1920 samples at 24 kHz (12.5 frames a second).
"""

from __future__ import annotations

from pathlib import Path

# The tokens CsmProcessor and the chat template rely on; the ids follow the byte-level vocabulary.
SPECIAL_TOKENS = ("<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>", "<|pad|>")

# The template `sesame/csm-1b` ships: each turn is `<bos>[speaker]text<eos>`, then its audio.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- bos_token }}"
    "{{- '[' + message['role'] + ']' }}"
    "{{- message['content'][0]['text'] }}"
    "{{- eos_token }}"
    "{%- if message['content'] | length > 1 %}"
    "{{- '<|AUDIO|><|audio_eos|>' }}"
    "{%- endif %}"
    "{%- endfor %}"
)

CODEBOOKS = 4
CODEBOOK_SIZE = 64


def _tokenizer() -> object:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # Byte-level BPE without merges: every byte is a token, so any text encodes.
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: index for index, symbol in enumerate(sorted(alphabet))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(token, special=True) for token in SPECIAL_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        pad_token="<|pad|>",
    )


def build_tiny_csm(directory: Path, seed: int = 0) -> Path:
    """Write a tiny random `CsmForConditionalGeneration` checkpoint into `directory`."""
    import torch
    from transformers import (
        CsmConfig,
        CsmForConditionalGeneration,
        CsmProcessor,
        EncodecFeatureExtractor,
    )

    tokenizer = _tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}  # type: ignore[attr-defined]
    codebook_vocab = CODEBOOK_SIZE + 3  # like 2048 + 3: the codes plus CSM's own specials
    config = CsmConfig(
        num_codebooks=CODEBOOKS,
        vocab_size=codebook_vocab,
        text_vocab_size=len(tokenizer),  # type: ignore[arg-type]
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        # Far above the usual 0.02, so the random model's choices depend on its prompt.
        initializer_range=0.5,
        bos_token_id=ids["<|begin_of_text|>"],
        eos_token_id=ids["<|end_of_text|>"],
        pad_token_id=ids["<|pad|>"],
        audio_token_id=ids["<|AUDIO|>"],
        audio_eos_token_id=ids["<|audio_eos|>"],
        codebook_pad_token_id=codebook_vocab - 1,
        codebook_eos_token_id=0,
        depth_decoder_config={
            "num_codebooks": CODEBOOKS,
            "backbone_hidden_size": 32,
            "vocab_size": codebook_vocab,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": CODEBOOKS + 1,
            "initializer_range": 0.5,
        },
        codec_config={
            "model_type": "mimi",
            "hidden_size": 16,
            "num_filters": 2,
            "codebook_size": CODEBOOK_SIZE,
            "codebook_dim": 8,
            "vector_quantization_hidden_dimension": 8,
            "num_quantizers": CODEBOOKS,
            "num_semantic_quantizers": 1,
            "upsample_groups": 16,
            "num_hidden_layers": 1,
            "intermediate_size": 32,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            # Short, so streaming tests cross the decoder transformer's attention window.
            "sliding_window": 8,
        },
    )
    torch.manual_seed(seed)
    model = CsmForConditionalGeneration(config).eval()
    # Mimi starts with all-zero codebooks, which would decode every code to the same sound.
    for name, buffer in model.codec_model.named_buffers():
        if name.endswith("codebook.embed_sum"):
            buffer.normal_()
    # Random convolutions are loud; quieter output keeps the samples clear of clipping, so
    # comparisons of audio see every difference.
    last = model.codec_model.decoder.decoder_seanet.layers[-1].conv
    last.weight.data.mul_(0.05)
    last.bias.data.mul_(0.05)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    processor = CsmProcessor(
        feature_extractor=EncodecFeatureExtractor(
            feature_size=1, sampling_rate=24_000, padding_value=0.0
        ),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(directory)
    return directory
