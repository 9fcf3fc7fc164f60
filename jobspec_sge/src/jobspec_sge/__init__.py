"""Grid Engine backend for JobSpec v1, written on jobspec-core's batch-scheduler layer."""
