"""Optional integrations: each imports its extra only when used."""
