"""What a face hears while a study runs: the events and the observers every face can use
(events.py, torch-free), drawn as a terminal bar (terminal.py) or in a notebook (notebook.py)."""
