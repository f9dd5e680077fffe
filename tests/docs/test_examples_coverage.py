"""Every public function and class of the reference has a runnable ``Examples:`` section.

Public means: a function or class named in the ``__all__`` of a module listed in
``docs/api_modules.txt`` (the modules that exist now), each object counted once under the name
the API reference gives it. Exceptions are exempt (raising them is their example). "Runnable":
the section holds ``>>>`` lines, which the suite's ``--doctest-modules`` runs. Methods are not in
this test's scope (see ``methods_without_examples`` for the count).
"""

from __future__ import annotations

import importlib
import inspect
import re

from docs_support import DOCS, load_docs_extension

# "Examples:" then indented lines (an intro sentence may come first) up to a ">>> " line.
EXAMPLES = re.compile(r"^Examples?:[ \t]*\n(?:(?:[ \t]+\S.*)?\n)*?[ \t]+>>> ", re.MULTILINE)


def has_examples(obj: object) -> bool:
    """True when the docstring has an ``Examples:`` section that starts with a doctest."""
    return bool(EXAMPLES.search(inspect.getdoc(obj) or ""))


def public_objects() -> dict[str, object]:
    """qualified name (as in the reference) -> the public function or class."""
    api = load_docs_extension("api_pages")
    modules = api.existing_modules(DOCS / "api_modules.txt")
    home = api.canonical_names(modules)
    found: dict[str, object] = {}
    for modname in modules:
        module = importlib.import_module(modname)
        for name in api.public_names(module):
            obj = getattr(module, name)
            if api.kind(obj) in ("class", "function"):
                found[home[id(obj)]] = obj
    return found


def methods_without_examples(objects: dict[str, object]) -> list[str]:
    """The public methods (defined on a public class itself) that lack an Examples section."""
    missing = []
    for qualname, obj in objects.items():
        if inspect.isclass(obj):
            for name, member in vars(obj).items():
                public = not name.startswith("_") and inspect.isfunction(member)
                if public and not has_examples(member):
                    missing.append(f"{qualname}.{name}")
    return missing


def test_the_pattern_tells_a_doctest_from_prose():
    def with_doctest():
        """Do it.

        Examples:
            >>> 1 + 1
            2
        """

    def prose_first():
        """Do it.

        Examples:
            With two numbers:

            >>> 1 + 1
            2
        """

    def prose_only():
        """Do it.

        Examples:
            call it with two numbers.

        Returns:
            >>> not a doctest of the Examples section
        """

    assert has_examples(with_doctest) and has_examples(prose_first)
    assert not has_examples(prose_only)


def test_every_public_function_and_class_has_a_runnable_example():
    objects = public_objects()
    assert len(objects) > 100  # the scope is the real API, not an empty list
    missing = sorted(name for name, obj in objects.items() if not has_examples(obj))
    assert not missing, f"{len(missing)} public names lack an Examples: doctest: {missing}"
