"""Qt-free queries and loaders behind the main window: case files, panels and review queue."""
