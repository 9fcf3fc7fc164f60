"""Real parts for tests of jobspec and of site transformers (an sshd on loopback, ...).

Nothing here is imported by jobspec itself; each module starts real programs in private
directories and stops only what it started.
"""
