"""The browser tracker sources; shipped inside the wheel as the collector.snippet package."""
