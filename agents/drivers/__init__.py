"""Agent drivers: how one kind of agent is started, read, given work and stopped."""
