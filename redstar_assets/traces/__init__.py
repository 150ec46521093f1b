"""Stage 2: the teacher writes N long chain-of-thought traces per problem; the verifier judges them."""
