"""Image Reproduce (paper §3.1, Eq. 2): seed image -> caption -> matplotlib code -> rendering."""
