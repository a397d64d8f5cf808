"""Retrieval: the datastore (FAISS index + metadata) and retrieval-augmented prompting."""
