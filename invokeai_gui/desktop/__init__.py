"""Desktop mode: the studio in a native pywebview window, with a small JavaScript bridge for native dialogs and drops."""
