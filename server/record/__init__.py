"""The session's record (调解笔录): the live transcript and its corrections, and playback of the recording.

The use-cases live in the ``recording`` package (``recording.record``,
``recording.playback``); these are their HTTP endpoints.
"""
