"""The engine package, laid out as InvokeAI 2.x laid out ``ldm``."""
