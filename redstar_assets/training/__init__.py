"""Stage 4: students are fine-tuned (SFT, then RL) in their own processes, launched through Pipes."""
