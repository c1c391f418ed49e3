"""Embeddings out: `embed` (`simclr embed`) writes h, z or a head layer of every image of a folder, list or
manifest as NumPy arrays with their paths, resumably; `neighbours` (`simclr neighbours`) finds the most
similar images by exact cosine search, streamed from disk."""
