"""Small shared pieces below every model: validation, seeding, the results cache, chain blocks, threads."""
