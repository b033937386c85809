"""Product content: load the YAML, model it, validate it, and the facts (clauses, cells) it states."""
