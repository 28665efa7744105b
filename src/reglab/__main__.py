from reglab.cli import entry

entry()
