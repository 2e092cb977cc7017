"""Test support shared by the test suite, the benchmarks and the fault harness."""
