"""Pages of the treatments layer, one module per concern."""
