"""What runs the book: chapters and profiles, the papermill pipeline, the captured environment.
Only the command line and the chapters import it."""
