"""One module per chapter or figure family: typed parameters -> ``run()`` -> tidy DataFrame (+ summary).

Chapters call these and draw the answers; nothing in the library below imports this package."""
