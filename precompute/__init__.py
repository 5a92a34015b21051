"""Command-line jobs over the core library: run a grid into DuckDB, summarise, export, train SimCSE."""
