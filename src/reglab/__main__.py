try:
    from reglab.cli import entry
except KeyboardInterrupt:  # Ctrl-C while the command was still starting: nothing was done
    raise SystemExit(130) from None

entry()
