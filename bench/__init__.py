"""Benchmarks: `make bench`. They print figures; they are not tests and assert nothing about speed."""
