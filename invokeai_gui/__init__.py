"""The application around the engine: command line, web server, gallery, desktop window."""
