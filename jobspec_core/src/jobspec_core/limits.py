"""Every bound on what one JobSpec document may hold or cause: the one place they are set.

``spec/spec.md`` ("Limits") lists the same numbers; a test keeps both in step. Each bound
is checked as early as the thing it bounds can be seen, so that a hostile document costs
little: the size before decoding, nesting, aliases, nodes and collection sizes while the
YAML is read (:mod:`.loader`), numbers while each scalar is built (:mod:`.scalars`),
instances before anything is planned (:mod:`.semantics`), and the problems reported
(:mod:`.validate`). The benchmark ``benchmarks/bench_validate_hostile.py`` measures what
the worst documents under these bounds cost.
"""

from __future__ import annotations

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ALIASES",
    "MAX_NODES",
    "MAX_ITEMS",
    "MAX_INSTANCES",
    "MAX_PROBLEMS",
    "MAX_GROUP_DEPTH",
    "INT_MIN",
    "INT_MAX",
    "MAX_NUMBER_TEXT",
]

#: Largest input accepted, in bytes (100,000 tasks take about 8 MiB).
MAX_BYTES = 32 * 1024 * 1024
#: Deepest nesting of mappings and sequences accepted.
MAX_DEPTH = 64
#: Most alias references (``*name``) accepted in one document.
MAX_ALIASES = 10_000
#: Most nodes accepted, counting every alias as a full copy of what it refers to
#: (100,000 tasks of the shape bench_validate.py generates are 1,152,659 nodes).
MAX_NODES = 1_200_000
#: Most entries of one mapping or items of one list.
MAX_ITEMS = 100_000
#: Most task instances of one plan: the sum of ``replicas`` over every task.
MAX_INSTANCES = 100_000
#: Most problems listed for one document; the rest are counted in one last line.
MAX_PROBLEMS = 100
#: Deepest nesting of groups (an allocation inside an allocation ...).
MAX_GROUP_DEPTH = 16
#: The integers a document may hold (signed 64-bit: what every scheduler, JSON reader and
#: database column holds).
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
#: Longest text (underscores removed) read as a number: longer ones cannot be in range
#: and are refused before any conversion.
MAX_NUMBER_TEXT = 100
