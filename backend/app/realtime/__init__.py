"""Socket.IO: authenticated connections, per-session rooms, fan-out across processes."""
