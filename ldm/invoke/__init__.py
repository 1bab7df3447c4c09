"""The InvokeAI engine: models, generators, samplers, metadata and postprocessors.

Nothing here knows about Flask, Socket.IO or windows; ``Generate`` is the one door in.
"""

__version__ = "2.2.0"
APP_ID = "invoke-ai/InvokeAI"
APP_NAME = "InvokeAI Desktop"
