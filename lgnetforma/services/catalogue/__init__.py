"""The catalogue: courses imported from and exported to files, the web editor's saves,
what the catalogue lists, and the analysis of quiz items."""
