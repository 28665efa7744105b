"""Analysis works from the run store alone: it never imports torch or the engine."""
