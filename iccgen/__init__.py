"""iccgen: distributed synthesis of STEM Image-Caption-Code datasets."""

__version__ = "0.1.0"
