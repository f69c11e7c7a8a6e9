"""iccgen: distributed synthesis of STEM Image-Caption-Code datasets."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `iccgen.open(OUT)`, imported on first use so `import iccgen` stays free of pyarrow.
    if name == "open":
        from iccgen.readers import open_dataset

        return open_dataset
    raise AttributeError(f"module 'iccgen' has no attribute {name!r}")
