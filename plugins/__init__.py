"""Plugins shipped with Commonwatch; each is found through its entry point like any other."""
