"""Runtimes behind one protocol: see base.py; vendor packages are imported inside each module."""
