"""Widgets, one file each, with their stylesheet beside them."""
