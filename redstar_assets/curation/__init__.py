"""Stage 3: difficulty scores and the subsets students are trained on."""
