"""GitHub Actions: the values workflows read from settings, and the static checks of the workflows."""
