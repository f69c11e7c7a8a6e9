import io
import json

from PIL import Image

from iccgen.schema import SCHEMA, Triplet, from_record, to_table, triplet_id


def png(color=(255, 0, 0)):
    buf = io.BytesIO()
    Image.new("RGB", (16, 8), color).save(buf, "PNG")
    return buf.getvalue()


def test_ids_are_deterministic_and_distinct():
    assert triplet_id("solid", 1, 2, 0) == triplet_id("solid", 1, 2, 0)
    assert len({triplet_id("solid", u, i, v) for u in range(3) for i in range(3) for v in range(2)}) == 18


def test_roundtrip_and_hf_metadata():
    t = Triplet(id="x", pipeline="solid", png=png(), caption="c", code="k", phash=2**64 - 1,
                width=16, height=8, unit=0, item=0, params={"k": 1})
    table = to_table([t])
    assert table.schema.remove_metadata() == SCHEMA
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert features["image"] == {"_type": "Image"} and features["phash"]["dtype"] == "uint64"
    back = from_record(table.to_pylist()[0])
    assert back == t


def test_datasets_decodes_images(tmp_path):
    datasets = __import__("pytest").importorskip("datasets")
    import pyarrow.parquet as pq

    t = Triplet(id="x", pipeline="solid", png=png(), caption="c", code="k", phash=1,
                width=16, height=8, unit=0, item=0)
    path = tmp_path / "part-00000.parquet"
    pq.write_table(to_table([t]), path)
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert ds[0]["image"].size == (16, 8)
