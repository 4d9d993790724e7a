"""User-facing commands, apart from the operator library: `cypool bench` (bench.py), `cypool plots`
(plots.py), and the one timing loop they share with `cypool compare`, the asv suite and the
regression gate (timing.py). `cypool compare` is its own package, cypool.compare."""
