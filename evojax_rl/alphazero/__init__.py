"""AlphaZero: self-play with our batched search on pgx board games, learning and evaluation as
compiled loops."""
