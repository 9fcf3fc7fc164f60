"""jobspec-flux: the Flux backend of jobspec (flux submit / flux batch).

Rendering needs neither Flux nor flux-python; submission uses flux-python's API when it
can be imported and ``FLUX_URI`` is set, otherwise the ``flux`` command line.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
