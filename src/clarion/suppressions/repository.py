"""SQL of the suppression list."""
