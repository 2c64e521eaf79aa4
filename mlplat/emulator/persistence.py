"""Save and restore every moto backend, so a later process (plan, destroy) sees what an earlier one (deploy) created.

moto keeps all state in module-level `BackendDict`s of plain Python objects, so a pickle of the live backends is a
complete snapshot. The few members that cannot be pickled as they are (locks, `cryptography` private keys of KMS
keys, defaultdicts with a lambda factory) are reduced to something that can, and rebuilt on load.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import moto
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto.core.base_backend import BackendDict

from mlplat.errors import MlplatError

STATE_FILE_NAME = "emulator-state.pickle"
# Bump when the layout of the saved dict changes.
STATE_FORMAT = 1

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
# moto's KMS gives every key one of these (for Sign/Verify); they are Rust objects without pickle support.
_PRIVATE_KEY_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)

# Where a backend dict lives, so the restored contents go back into the module-level object moto serves from.
BackendAddress = tuple[str, str]  # (module, attribute)
SavedBackends = dict[BackendAddress, dict[str, dict[str, Any]]]  # address -> account -> region -> backend


def _new_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _load_private_key(der: bytes) -> Any:
    return serialization.load_der_private_key(der, password=None)


def _named_factory(factory: Callable[[], Any]) -> Callable[[], Any]:
    """An equivalent of a lambda default factory that pickle can store.

    moto nests defaultdicts as `defaultdict(lambda: defaultdict(dict))` (SSM's tags, for one); the same thing built from
    `functools.partial(defaultdict, dict)` pickles.
    """
    sample = factory()
    if isinstance(sample, defaultdict) and sample.default_factory is not None:
        inner = sample.default_factory
        return partial(defaultdict, _named_factory(inner) if _is_lambda(inner) else inner)
    raise MlplatError(
        f"cannot save the local AWS state: a moto defaultdict has an unsupported default factory {factory!r}"
    )


def _is_lambda(function: Any) -> bool:
    return "<lambda>" in getattr(function, "__qualname__", "")


def _new_defaultdict(cls: type[defaultdict[Any, Any]], factory: Callable[[], Any] | None) -> defaultdict[Any, Any]:
    """An empty `cls` without calling its __init__, whose signature subclasses change (SSM's ParameterDict)."""
    instance = cls.__new__(cls)
    defaultdict.__init__(instance, factory)
    return instance


class _StatePickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, defaultdict):
            # defaultdict pickles as cls(factory): wrong for subclasses with their own __init__, and impossible for a
            # lambda factory. Rebuild both without __init__, with a named equivalent of the factory.
            factory = _named_factory(obj.default_factory) if _is_lambda(obj.default_factory) else obj.default_factory
            state = getattr(obj, "__dict__", None) or None  # plain defaultdicts have no __dict__
            return _new_defaultdict, (type(obj), factory), state, None, iter(obj.items())
        if isinstance(obj, _LOCK_TYPES):
            # A lock guards nothing across processes; the restored object gets a fresh, unlocked one.
            return _new_lock, (isinstance(obj, _LOCK_TYPES[1]),)
        if isinstance(obj, _PRIVATE_KEY_TYPES):
            der = obj.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return _load_private_key, (der,)
        return NotImplemented


def _address_of(backend_dict: BackendDict[Any]) -> BackendAddress:
    module_name = backend_dict.backend.__module__
    module = importlib.import_module(module_name)
    for attribute, value in vars(module).items():
        if value is backend_dict:
            return module_name, attribute
    # moto defines each BackendDict in the module of its backend class; this only fails if that ever changes.
    raise MlplatError(
        f"cannot save the local AWS: moto's {backend_dict.service_name} backends are not in {module_name}"
    )


def _live_backends() -> SavedBackends:
    saved: SavedBackends = {}
    for backend_dict in {id(d): d for d in BackendDict._instances}.values():
        accounts = {account: dict(regions) for account, regions in backend_dict.items() if regions}
        if accounts:
            saved[_address_of(backend_dict)] = accounts
    return saved


def save_state(state_dir: Path, port: int) -> Path:
    """Write every live moto backend, and the port they were served on, to `state_dir`.

    The write is atomic (temporary file, then rename), so a crash never leaves half a state behind.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    state = {"format": STATE_FORMAT, "moto_version": moto.__version__, "port": port, "backends": _live_backends()}
    try:
        _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        # Some moto object holds something pickle cannot take (as locks and KMS keys did): an emulator bug.
        raise MlplatError(
            f"cannot save the local AWS state to {state_dir}: {error}. The previous state there is unchanged; "
            "report this as an emulator bug, naming the resources the run created"
        ) from error
    target = state_dir / STATE_FILE_NAME
    fd, temporary = tempfile.mkstemp(prefix=".emulator-state.", dir=state_dir)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(buffer.getbuffer())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return target


def restore_state(state_dir: Path) -> int | None:
    """Load the backends saved in `state_dir` into moto and return the port they were served on (None: no state)."""
    path = state_dir / STATE_FILE_NAME
    if not path.exists():
        return None
    start_over = f"delete {path} to start from an empty local AWS (whatever it held is lost)"
    try:
        with path.open("rb") as file:
            state = pickle.load(file)
    except Exception as error:  # any unpickling failure means the same thing: the file is not usable
        raise MlplatError(f"the local AWS state {path} cannot be read ({error}); {start_over}") from error
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise MlplatError(f"the local AWS state {path} has an unknown format; {start_over}")
    if state["moto_version"] != moto.__version__:
        raise MlplatError(
            f"the local AWS state {path} was written by moto {state['moto_version']}, this is moto "
            f"{moto.__version__}; reinstall moto {state['moto_version']}, or {start_over}"
        )
    saved: SavedBackends = state["backends"]
    for (module_name, attribute), accounts in saved.items():
        backend_dict: BackendDict[Any] = getattr(importlib.import_module(module_name), attribute)
        for account, regions in accounts.items():
            account_backends = backend_dict[account]
            for region, backend in regions.items():
                account_backends[region] = backend
    return state["port"]
