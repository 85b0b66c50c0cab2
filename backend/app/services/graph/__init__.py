"""The knowledge graph of a session: storage and queries (store), extraction, embeddings, linking
(pipeline) and metrics (metrics). Everything but the queries runs off the request path."""
