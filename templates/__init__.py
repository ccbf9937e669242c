"""Jinja2 templates; shipped inside the wheel as the collector.templates package."""
