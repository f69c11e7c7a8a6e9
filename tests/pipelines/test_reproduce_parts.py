"""Image Reproduce's parts without Ray or a model: seeds, similarity, code extraction, prompts."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from iccgen.errors import ConfigError, InputError
from iccgen.unit import Rejected
from pipelines.codeblock import extract_code
from pipelines import prompts
from pipelines.reproduce.seeds import MODEL_MAX_SIDE, decode_seed, list_seeds, load_seed
from pipelines.similarity import similarity


def png(size=(200, 150), mode="RGB", color="white", shapes=True) -> bytes:
    im = Image.new(mode, size, color)
    if shapes:
        draw = ImageDraw.Draw(im)
        draw.rectangle([20, 20, size[0] // 2, size[1] // 2], fill=(0, 0, 0, 255))
        draw.line([0, size[1] - 1, size[0] - 1, 0], fill=(255, 0, 0, 255), width=3)
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    result = decode_seed(data)
    assert not isinstance(result, Rejected), result
    return Image.open(io.BytesIO(result[0]))


# -- seeds ---------------------------------------------------------------------------------------

def test_folder_seeds_in_stable_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.jpg").write_bytes(b"x")
    (tmp_path / "one.PNG").write_bytes(b"x")
    (tmp_path / "three.webp").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a seed")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    refs = list_seeds(str(tmp_path), "image")
    assert [r.source_id for r in refs] == ["b/two.jpg", "one.PNG", "three.webp"]


def test_parquet_seeds_plain_and_hugging_face_layout(tmp_path):
    a, b = png(), png((300, 300))
    hf = pa.table({"image": [{"bytes": a, "path": "a.png"}, {"bytes": b, "path": None}],
                   "label": ["x", "y"]})
    pq.write_table(hf, tmp_path / "train-00000.parquet", row_group_size=1)
    pq.write_table(pa.table({"img": [b]}), tmp_path / "plain.parquet")
    refs = list_seeds(str(tmp_path / "train-00000.parquet"), "image")
    assert [r.source_id for r in refs] == ["train-00000.parquet#0", "train-00000.parquet#1"]
    assert load_seed(refs[1], "image").width == 300
    (plain,) = list_seeds(str(tmp_path / "plain.parquet"), "img")
    assert load_seed(plain, "img").height == 300


def test_parquet_row_without_bytes_is_rejected(tmp_path):
    table = pa.table({"image": [{"bytes": None, "path": "elsewhere.png"}]})
    pq.write_table(table, tmp_path / "t.parquet")
    (ref,) = list_seeds(str(tmp_path), "image")
    assert load_seed(ref, "image").reason == "seed:unreadable"


@pytest.mark.parametrize("setup, needle", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "holds no images"),
    (lambda p: (p.mkdir(), pq.write_table(pa.table({"x": [1]}), p / "t.parquet")), "no column 'image'"),
    (lambda p: (p.mkdir(), (p / "t.parquet").write_bytes(b"PAR1 nope")), "not a readable Parquet"),
])
def test_unusable_seed_locations_are_input_errors(tmp_path, setup, needle):
    where = tmp_path / "seeds"
    setup(where)
    with pytest.raises(InputError, match=needle):
        list_seeds(str(where), "image")


@pytest.mark.parametrize("data, reason", [
    (b"", "seed:empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "seed:corrupt"),
    (b"<html>not an image</html>", "seed:corrupt"),
    (png((16, 400), shapes=False), "seed:too_small"),
    (png((9000, 6000), mode="1", color=1, shapes=False), "seed:too_large"),
])
def test_bad_seed_images_are_rejected_with_a_reason(data, reason):
    result = decode_seed(data)
    assert isinstance(result, Rejected) and result.reason == reason


@pytest.mark.parametrize("data, reason", [
    (b"", "seed:empty"),
    (b"<html>not an image</html>", "seed:corrupt"),
    (png((10, 10), shapes=False), "seed:too_small"),
], ids=["empty", "corrupt", "too_small"])
def test_a_seed_reject_names_the_seed_file(tmp_path, data, reason):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.png").write_bytes(data)
    (ref,) = list_seeds(str(tmp_path), "image")
    result = load_seed(ref, "image")
    assert isinstance(result, Rejected) and result.reason == reason
    assert result.detail.startswith(f"{tmp_path / 'sub' / 'bad.png'}: ") and result.detail[-1] != " "
    assert " object at 0x" not in result.detail


def test_a_seed_reject_names_the_table_and_row(tmp_path):
    table = pa.table({"image": [png(), b"not an image", png((10, 10), shapes=False)]})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=2)
    refs = list_seeds(str(tmp_path), "image")
    assert not isinstance(load_seed(refs[0], "image"), Rejected)
    corrupt, tiny = load_seed(refs[1], "image"), load_seed(refs[2], "image")
    assert corrupt.reason == "seed:corrupt" and tiny.reason == "seed:too_small"
    assert corrupt.detail.startswith(f"{tmp_path / 't.parquet'} row 1: ")
    assert tiny.detail == f"{tmp_path / 't.parquet'} row 2: 10x10 pixels"
    assert " object at 0x" not in corrupt.detail


def test_truncated_image_is_corrupt():
    data = png((400, 400))
    assert decode_seed(data[: len(data) // 2]).reason == "seed:corrupt"


def test_seed_is_normalised_for_the_model():
    im = decoded(png((3000, 1500)))
    assert im.mode == "RGB" and max(im.size) == MODEL_MAX_SIDE and im.size[1] == MODEL_MAX_SIDE // 2
    transparent = decoded(png((100, 100), mode="RGBA", color=(0, 0, 0, 0), shapes=False))
    assert transparent.getpixel((50, 50)) == (255, 255, 255)  # transparency lands on white


# -- similarity ----------------------------------------------------------------------------------

def test_similarity_of_identical_and_different_images():
    a = png()
    same = similarity(a, a)
    assert same.ssim == pytest.approx(1.0) and same.phash_distance == 0
    assert same.passes(0.99, 0)
    im = Image.new("RGB", (200, 150), "white")
    ImageDraw.Draw(im).ellipse([100, 60, 190, 140], fill="blue")
    out = io.BytesIO()
    im.save(out, format="PNG")
    other = similarity(a, out.getvalue())
    assert other.ssim < 0.7 and other.phash_distance > 10
    assert not other.passes(0.7, 20)
    assert other == similarity(a, out.getvalue())  # deterministic


def test_similarity_of_a_flat_image_is_defined():
    flat = png(shapes=False)
    score = similarity(flat, png())
    assert 0 <= score.ssim < 1 and score.to_dict().keys() == {"ssim", "phash_distance"}


# -- code extraction -----------------------------------------------------------------------------

@pytest.mark.parametrize("answer, code", [
    ("Sure:\n```python\nimport numpy\nprint(1)\n```\nDone.", "import numpy\nprint(1)\n"),
    ("```py\nx = 1\n```", "x = 1\n"),
    ("```\nx = 1\n```", "x = 1\n"),
    ("```bash\nls\n```\nthen\n```python\nx = 2\n```", "x = 2\n"),
    ("```python\nshort\n```\n```python\nthe longer one\n```", "the longer one\n"),
    ("<think>```python\nwrong\n```</think>\n```python\nright\n```", "right\n"),
    ("```python\nimport matplotlib  # cut off at max_tokens", None),
    ("plt.plot(x) is all you need", None),
    ("```python\n\n```", None),
])
def test_extract_code(answer, code):
    assert extract_code(answer) == code


# -- prompts -------------------------------------------------------------------------------------

def test_prompts_are_versioned_and_filled():
    p = prompts.load("reproduce", "v1", ("caption", "code", "repair"))
    assert p.version == "reproduce/v1"
    assert "Do not write code" in p.render("caption")
    code_prompt = p.render("code", caption="A plot of {x} costing $5")
    assert "A plot of {x} costing $5" in code_prompt and "```python" in code_prompt
    repair = p.render("repair", code="d = {'a': 1}", error="KeyError: 'b'")
    assert "d = {'a': 1}\n```" in repair and "KeyError: 'b'" in repair


def test_unknown_prompt_version_is_a_config_error():
    with pytest.raises(ConfigError, match="available: \\['v1'\\]"):
        prompts.load("reproduce", "v9", ("caption",))
