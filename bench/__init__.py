"""Benchmarks for the home-timeline service: a synthetic follow graph calibrated to Twitter,
the AWS price table, and a capacity model that predicts what each operation costs."""
