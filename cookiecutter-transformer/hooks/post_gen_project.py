"""After generation: keep the scheduler module of the chosen kind as ``scheduler.py``.

The template carries one module per starting point in ``_kinds/``; the generated package
gets only the chosen one, under the name the transformer imports.
"""

import shutil
from pathlib import Path

KIND = {{ cookiecutter.scheduler_kind|tojson }}
PACKAGE = Path("src") / {{ cookiecutter.package_name|tojson }}

kinds = PACKAGE / "_kinds"
shutil.move(str(kinds / f"{KIND}.py"), str(PACKAGE / "scheduler.py"))
shutil.rmtree(kinds)

tests = Path("tests")
shutil.move(str(tests / "_kinds" / f"{KIND}.py"), str(tests / "test_scheduler.py"))
shutil.rmtree(tests / "_kinds")
