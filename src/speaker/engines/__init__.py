"""Engines behind one small interface."""
