"""After generation: keep the scheduler module of the chosen kind as ``scheduler.py``.

The template carries one module per starting point in ``_kinds/``; the generated package
gets only the chosen one, under the name the transformer imports.
"""

import json
import shutil
from pathlib import Path

# Rendered by Jinja: tojson escapes ' (as \u0027), so the raw ''' string always holds it.
# fmt: off
KIND = json.loads(r'''{{ cookiecutter.scheduler_kind|tojson }}''')
PACKAGE = Path("src") / json.loads(r'''{{ cookiecutter.package_name|tojson }}''')
# fmt: on

kinds = PACKAGE / "_kinds"
shutil.move(str(kinds / f"{KIND}.py"), str(PACKAGE / "scheduler.py"))
shutil.rmtree(kinds)

tests = Path("tests")
shutil.move(str(tests / "_kinds" / f"{KIND}.py"), str(tests / "test_scheduler.py"))
shutil.rmtree(tests / "_kinds")
