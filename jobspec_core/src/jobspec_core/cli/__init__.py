"""The ``jobspec`` command. One module per subcommand; :mod:`.main` wires them together."""
