"""Literature assistant: ingest astro-ph metadata, hybrid search, answers with citations."""
