"""``jobspec serve``: the runner and the run store behind an authenticated REST API.

Modules: :mod:`.app` (the ASGI application, FastAPI), :mod:`.auth` (bearer tokens and
OIDC/JWT), :mod:`.page` (the status page), :mod:`.client` (the HTTP client the CLI uses
when ``JOBSPEC_SERVER`` is set). Needs the ``serve`` extra (``pip install
'jobspec-core[serve]'``) on the server; the client needs nothing beyond the standard
library. Nothing here is imported unless a service command runs.
"""
