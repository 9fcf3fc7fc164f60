"""Real parts for tests of jobspec and of site transformers (an sshd on loopback, ...).

Nothing here is imported by jobspec itself; each module starts real programs in private
directories and stops only what it started. :mod:`~jobspec_core.testing.daemons` is the
machinery of the schedulers' test clusters (Slurm's, Grid Engine's, a site's own).
"""
