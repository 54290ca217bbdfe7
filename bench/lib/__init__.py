"""What the benchmark parts share: corpora, synthetic data, one timer, results, machine facts."""
