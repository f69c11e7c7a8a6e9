"""STEM2Code-Eval: the benchmark reader, the runner, its scores and judges."""
