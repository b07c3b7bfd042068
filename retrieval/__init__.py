"""Documents -> chunks -> embeddings -> PostgreSQL, and hybrid search over them."""
