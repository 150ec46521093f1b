"""Stage 1: problem sources are ingested, validated, normalized and deduplicated."""
