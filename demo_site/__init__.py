"""The demo shop served by `ekevents demo`; shipped inside the wheel as collector.demo_site."""
