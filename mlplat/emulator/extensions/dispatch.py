"""moto's request dispatch without its per-request directory scans.

For every request, moto 5.2 lists its own package directory (`list_of_moto_modules`, once per backend it tries) and
inspects the response class for its methods (`method_names_from_class`). Neither answer can change while a process
runs, and together they were about 30 % of the emulator's time per request (profiled on tests/emulator/test_sweep.py).
Both are computed once here; what moto answers is unchanged.
"""

from __future__ import annotations

import functools

from moto import backends
from moto.core import responses, utils

_original_list_of_moto_modules = backends.list_of_moto_modules
_original_method_names_from_class = utils.method_names_from_class


@functools.cache
def moto_modules() -> frozenset[str]:
    return frozenset(_original_list_of_moto_modules())


@functools.cache
def method_names(clazz: type) -> frozenset[str]:
    return frozenset(_original_method_names_from_class(clazz))


def install() -> None:
    method_names.cache_clear()  # the other extensions add response methods when they install, before any request
    backends.list_of_moto_modules = moto_modules  # werkzeug_app looks it up on the module at each request
    responses.method_names_from_class = method_names  # imported by name into moto.core.responses
