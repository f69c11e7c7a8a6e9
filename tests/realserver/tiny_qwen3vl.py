"""A tiny Qwen3-VL built offline, for serving with vLLM's CPU build in the real-server tests.

Nothing is downloaded: the weights are seeded random numbers, the tokenizer is a byte-level BPE
trained here on the repository's own prompts and fixture programs plus Qwen's special tokens, and
the chat template places images as Qwen3-VL's does. The model answers gibberish; what the tests
exercise is vLLM's side of the wire: chat templating, image processing, sampling, usage counts
and error answers.

Run in the vLLM venv (it has torch and transformers): `python tiny_qwen3vl.py [FOLDER]` builds the
model (under ~/.cache/iccgen/tiny-qwen3vl/<hash of this file and its corpus> by default) and
prints its folder; a folder already built is reused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS_GLOBS = ("pipelines/**/*.txt", "tests/fixtures/programs/*.py")
VOCAB = 2048
MAX_POSITIONS = 8192
# 16-pixel patches merged 2x2: one image token per 32x32 pixels, at most 256 tokens an image.
MAX_IMAGE_TOKENS = 256
MIN_IMAGE_TOKENS = 4
PIXELS_PER_TOKEN = 32 * 32
SEED = 0

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]

# Qwen3-VL's ChatML: each image of a turn becomes <|vision_start|><|image_pad|><|vision_end|>
# where the image stands in the content; the processor widens <|image_pad|> to the image's tokens.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' or 'image' in part or 'image_url' in part -%}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif part['type'] == 'video' or 'video' in part -%}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{%- elif 'text' in part -%}{{ part['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def corpus_files() -> list[Path]:
    return sorted(p for pattern in CORPUS_GLOBS for p in ROOT.glob(pattern))


def build_key() -> str:
    """Changes when this builder or its training text changes, so a stale cache is never used."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in corpus_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def default_folder() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "iccgen" / "tiny-qwen3vl" / build_key()


def train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator((p.read_text() for p in corpus_files()), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", model_max_length=MAX_POSITIONS,
                                   chat_template=CHAT_TEMPLATE)


def make_processor(tokenizer):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    size = {"shortest_edge": MIN_IMAGE_TOKENS * PIXELS_PER_TOKEN,
            "longest_edge": MAX_IMAGE_TOKENS * PIXELS_PER_TOKEN}
    images = Qwen2VLImageProcessor(patch_size=16, merge_size=2, temporal_patch_size=2, size=size,
                                   image_mean=[0.5] * 3, image_std=[0.5] * 3)
    videos = Qwen3VLVideoProcessor(patch_size=16, merge_size=2, temporal_patch_size=2, size=size)
    return Qwen3VLProcessor(image_processor=images, tokenizer=tokenizer, video_processor=videos,
                            chat_template=CHAT_TEMPLATE)


def make_config(tokenizer):
    from transformers import Qwen3VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text = dict(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32,  # vLLM's CPU attention: 32, 64, 80...
        max_position_embeddings=MAX_POSITIONS, pad_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"], bos_token_id=ids["<|endoftext|>"],
        # interleaved M-RoPE as Qwen3-VL's: (temporal, height, width) sections of head_dim / 2
        rope_parameters={"rope_type": "default", "rope_theta": 5_000_000.0,
                         "mrope_section": [6, 5, 5], "mrope_interleaved": True},
    )
    vision = dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=2, patch_size=16,
                  spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=128,
                  num_position_embeddings=256, deepstack_visual_indexes=[1])
    return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True,
                         image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                         vision_start_token_id=ids["<|vision_start|>"],
                         vision_end_token_id=ids["<|vision_end|>"])


def build(folder: Path) -> Path:
    """Write the model to `folder` (through a temporary sibling, so a half-built one never exists)."""
    if (folder / "config.json").exists():
        return folder  # before importing torch: that alone takes a minute on a loaded machine
    import torch
    from transformers import GenerationConfig, Qwen3VLForConditionalGeneration

    torch.manual_seed(SEED)
    tokenizer = train_tokenizer()
    config = make_config(tokenizer)
    model = Qwen3VLForConditionalGeneration(config)
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    model.save_pretrained(partial)
    make_processor(tokenizer).save_pretrained(partial)
    GenerationConfig(eos_token_id=config.text_config.eos_token_id,
                     pad_token_id=config.text_config.pad_token_id).save_pretrained(partial)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        partial.rename(folder)
    except OSError:  # another builder finished first: theirs is the same model
        shutil.rmtree(partial)
        if not (folder / "config.json").exists():
            raise
    return folder


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else default_folder()))
