"""Steps shared by several features live here."""
