"""Before generation: refuse a transformer name jobspec could not use.

Runs with the answers filled in; exiting non-zero makes cookiecutter stop and remove what
it had started, so nothing is generated.
"""

import json
import keyword
import re
import sys

# Rendered by Jinja: tojson escapes ' (as \u0027), so the raw ''' string always holds it.
# fmt: off
NAME = json.loads(r'''{{ cookiecutter.transformer_name|tojson }}''')
PACKAGE = json.loads(r'''{{ cookiecutter.package_name|tojson }}''')
SLUG = json.loads(r'''{{ cookiecutter.project_slug|tojson }}''')
AUTHOR = json.loads(r'''{{ cookiecutter.author|tojson }}''')
# fmt: on

#: The transformers jobspec itself ships: a second plugin with one of these names would
#: be refused at load time ("already provided by ...").
BUILT_IN = ("local", "slurm", "flux", "sge")
VALID = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_LENGTH = 32


def problem() -> str | None:
    if not VALID.match(NAME):
        return (
            f"transformer_name {NAME!r} is not valid: it must start with a lower-case letter "
            "and contain only lower-case letters, digits and '_' (for example 'mysite' or "
            "'hpc2_pbs')"
        )
    if len(NAME) > MAX_LENGTH:
        return f"transformer_name {NAME!r} is too long: at most {MAX_LENGTH} characters"
    if NAME in BUILT_IN:
        return (
            f"transformer_name {NAME!r} is the name of a transformer jobspec already ships "
            f"({', '.join(BUILT_IN)}): pick your site's own name, for example 'mysite'"
        )
    if NAME.endswith("_") or "__" in NAME:
        return (
            f"transformer_name {NAME!r} may not end with '_' or contain '__' (example: 'my_site')"
        )
    if not PACKAGE.isidentifier() or keyword.iskeyword(PACKAGE):
        return f"package_name {PACKAGE!r} is not a Python identifier (example: 'jobspec_mysite')"
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", SLUG):
        return f"project_slug {SLUG!r} is not a valid distribution name (example: 'jobspec-mysite')"
    if any(c in AUTHOR for c in '"\\') or not AUTHOR.isprintable():
        return f"author {AUTHOR!r} may not contain double quotes, backslashes or control characters"
    return None


message = problem()
if message:
    print(f"ERROR: {message}. Nothing was generated.", file=sys.stderr)
    sys.exit(1)
