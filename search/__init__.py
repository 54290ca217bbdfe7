"""vraagbaak's read path: embed a question, retrieve chunks, join them with their articles."""
