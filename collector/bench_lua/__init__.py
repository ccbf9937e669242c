"""wrk scripts used by `ekevents bench` (Lua, read as package data)."""
