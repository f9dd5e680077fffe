"""Write the API reference's pages from ``docs/api_modules.txt`` before Sphinx reads the sources.

One page per public module (its docstring and a table of its public names) and one page per
public function or class (``autoclass`` / ``autofunction``). A name re-exported by several
modules (``mlplab.relu`` is ``mlplab.functional.relu``) gets one page, under the first module of
the list that exports it, with ``mlplab`` itself last; every module's table links to it.
A module listed but not importable yet is skipped, so the reference never blocks on work in
progress. The pages are generated into ``docs/api/`` (ignored by git), so they cannot drift.
"""

from __future__ import annotations

import importlib
import inspect
import types
from pathlib import Path
from typing import Any

TOP = "mlplab"


def listed_modules(listing: Path) -> list[str]:
    """Return the module names of ``api_modules.txt`` (comments and blank lines dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in listing.read_text().splitlines())
    return [line for line in lines if line]


def _importable(name: str) -> bool:
    try:
        module = importlib.import_module(name)
        for public in public_names(module):
            getattr(module, public)  # lazy exports resolve only now
    except (ImportError, AttributeError):  # not there yet, or being written right now
        return False
    return True


def existing_modules(listing: Path) -> list[str]:
    """Return the listed modules that can be imported now, in the listed order."""
    return [name for name in listed_modules(listing) if _importable(name)]


def public_names(module: types.ModuleType) -> list[str]:
    """Return ``__all__``, or else the public names the module itself defines."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == module.__name__
    ]


def kind(obj: Any) -> str:
    """Return the autodoc kind of a public object: module, exception, class, function or data."""
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "data"


def canonical_names(modules: list[str]) -> dict[int, str]:
    """Map id(object) -> the one qualified name under which it gets its page."""
    order = [m for m in modules if m != TOP] + [m for m in modules if m == TOP]
    home: dict[int, str] = {}
    for modname in order:
        module = importlib.import_module(modname)
        for name in public_names(module):
            obj = getattr(module, name)
            if kind(obj) in ("class", "exception", "function", "data"):
                home.setdefault(id(obj), f"{modname}.{name}")
    return home


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def object_page(qualname: str, obj: Any) -> str:
    """The reST of one object's page."""
    what = kind(obj)
    if what == "data":
        return f"{_title(qualname)}\n.. py:data:: {qualname}\n   :value: {obj!r}\n"
    if what in ("class", "exception"):
        return (
            f"{_title(qualname)}\n.. auto{what}:: {qualname}\n   :members:\n   :show-inheritance:\n"
        )
    return f"{_title(qualname)}\n.. autofunction:: {qualname}\n"


def module_page(modname: str, home: dict[int, str], documented: set[str]) -> tuple[str, list[str]]:
    """The reST of a module's page and the object pages it owns."""
    module = importlib.import_module(modname)
    rows, owned = [], []
    for name in public_names(module):
        obj = getattr(module, name)
        if kind(obj) == "module":
            if obj.__name__ in documented:
                rows.append(f"* :mod:`{obj.__name__}`")
            continue
        target = home[id(obj)]
        # autosummary would show a constant's type docstring (dict's, dtype's): list it plainly
        rows.append(f"* :py:data:`~{target}`" if kind(obj) == "data" else f"   ~{target}")
        if target == f"{modname}.{name}":
            owned.append(target)
    mods = [r for r in rows if r.startswith("*")]
    objs = [r for r in rows if not r.startswith("*")]
    text = _title(modname) + f"\n.. automodule:: {modname}\n\n.. py:currentmodule:: None\n"
    if mods:
        text += "\nContents:\n\n" + "\n".join(mods) + "\n"
    if objs:
        text += "\n.. autosummary::\n\n" + "\n".join(objs) + "\n"
    if owned:
        text += "\n.. toctree::\n   :hidden:\n\n" + "\n".join(f"   {o}" for o in owned) + "\n"
    return text, owned


def write_pages(listing: Path, out: Path) -> dict[str, int]:
    """Write ``out/index.rst``, the module pages and the object pages; drop stale ones.

    Returns:
        ``{"modules": ..., "objects": ...}``, the number of pages of each kind.
    """
    modules = existing_modules(listing)
    home = canonical_names(modules)
    objects = {name: obj for name, obj in _objects(modules)}
    pages: dict[str, str] = {}
    for modname in modules:
        text, owned = module_page(modname, home, set(modules))
        pages[modname] = text
        for qualname in owned:
            pages[qualname] = object_page(qualname, objects[qualname])
    index = _title("API reference") + (
        "\nGenerated from the docstrings of every public module (``docs/api_modules.txt``).\n"
        "\n.. toctree::\n   :maxdepth: 1\n\n" + "\n".join(f"   {m}" for m in modules) + "\n"
    )
    pages["index"] = index
    out.mkdir(parents=True, exist_ok=True)
    for stale in set(p.stem for p in out.glob("*.rst")) - set(pages):
        (out / f"{stale}.rst").unlink()
    for name, text in pages.items():
        path = out / f"{name}.rst"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return {"modules": len(modules), "objects": len(pages) - len(modules) - 1}


def _objects(modules: list[str]) -> list[tuple[str, Any]]:
    found = []
    for modname in modules:
        module = importlib.import_module(modname)
        for name in public_names(module):
            found.append((f"{modname}.{name}", getattr(module, name)))
    return found


def setup(app: Any) -> dict[str, Any]:
    """Generate the pages when the builder starts (before the sources are read)."""

    def generate(app: Any) -> None:
        src = Path(app.srcdir)
        counts = write_pages(src / "api_modules.txt", src / "api")
        app.config.mlplab_api_counts = counts

    app.add_config_value("mlplab_api_counts", {}, "env")
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
