"""neurochip."""
