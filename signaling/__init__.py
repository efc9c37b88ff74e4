"""Signaling over python-socketio: joining rooms, SDP and ICE exchange, presence, chat (issue 3)."""
