"""Benchmarks (`make bench`) and fault injection (`make chaos`) against the real local stack."""
