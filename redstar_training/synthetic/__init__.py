"""Teachers that write long chain-of-thought traces; heavy backends are imported lazily."""
