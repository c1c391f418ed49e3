"""Run safety, kept apart from optimisation: untrusted files (the class list, safe checkpoint reading), atomic
checkpoint writes, exact resume (RNG streams, data position, resume checks), the one-run-per-folder lock,
SIGTERM / SIGINT stops, the non-finite loss guard, output paths that never overwrite an input, and every use
of Lightning's private names (`lightning_internals`)."""
