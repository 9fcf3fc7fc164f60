"""Keep pytest out of the template itself: its folder holds unrendered code.

The root ``pyproject.toml`` lists only ``cookiecutter-transformer/tests`` in ``testpaths`` and
excludes the template folder in ``norecursedirs``; this covers ``pytest cookiecutter-transformer``
run on the folder directly. ``tests/test_template.py`` proves both.
"""

collect_ignore = ["{{cookiecutter.project_slug}}", "hooks"]
