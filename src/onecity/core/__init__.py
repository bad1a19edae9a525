"""The shared platform every domain module stands on. Imports no domain module."""
