"""Stage 5: held-out benchmarks scored per experiment and stage, and the ablation report across them."""
