"""Renderers: Report -> text. They format; they never compute."""
