"""Live mediation rooms: one aiortc peer connection per participant, forwarding without transcoding (issue 3)."""
