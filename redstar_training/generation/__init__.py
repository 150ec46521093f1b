"""Generation for distillation, difficulty scoring and evaluation: one request/completion model,
versioned prompts, a content-addressed sample cache, and backends (openai-compatible servers,
vLLM offline, local transformers, the procedural demo teacher). Imports without torch."""
