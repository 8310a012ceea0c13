"""minicalc: small statistics helpers (a repository made for plinth's examples)."""
