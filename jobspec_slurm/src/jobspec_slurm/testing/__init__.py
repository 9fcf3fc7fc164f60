"""Test helpers for the Slurm backend: a real single-host Slurm cluster (see ``cluster``)."""
