"""The pipeline's asset keys, written once; every list of them (the lineage walk, the source assets,
the chain behind a score) is derived from these in pipeline order."""

RAW_PROBLEMS = "raw_problems"
PROBLEMS = "problems"
TEACHER_TRACES = "teacher_traces"
VERIFIED_TRACES = "verified_traces"
DIFFICULTY_SCORES = "difficulty_scores"
SFT_SUBSETS = "sft_subsets"
SFT_CHECKPOINTS = "sft_checkpoints"
RL_CHECKPOINTS = "rl_checkpoints"
BENCHMARK_SCORES = "benchmark_scores"
ABLATION_REPORT = "ablation_report"
LINEAGE = "lineage"

PIPELINE = (
    RAW_PROBLEMS,
    PROBLEMS,
    TEACHER_TRACES,
    VERIFIED_TRACES,
    DIFFICULTY_SCORES,
    SFT_SUBSETS,
    SFT_CHECKPOINTS,
    RL_CHECKPOINTS,
    BENCHMARK_SCORES,
    ABLATION_REPORT,
)
# One partition per problem source: naming any of them downstream means "rows of that source".
SOURCE_ASSETS = PIPELINE[: PIPELINE.index(DIFFICULTY_SCORES) + 1]
# What stands behind a score, newest first, from the scores back to the teacher's traces.
SCORE_CHAIN = PIPELINE[PIPELINE.index(TEACHER_TRACES) : PIPELINE.index(BENCHMARK_SCORES) + 1][::-1]
# The stages a subset, a checkpoint or a score was trained through.
TRAINED_ASSETS = (SFT_SUBSETS, SFT_CHECKPOINTS, RL_CHECKPOINTS, BENCHMARK_SCORES)
# The model steps: each runs an entry point in its own process.
STAGE_CHECKPOINTS = {"sft": SFT_CHECKPOINTS, "rl": RL_CHECKPOINTS}
