"""What the views, commands and fast paths of one process share, and the one way to reach it."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from app.core.injection import Signers
from app.store import Store

if TYPE_CHECKING:
    from app.tracking.recorder import Recorder


@dataclass
class Opentrack:
    """One process's store, recorder and signers; ``create_app`` puts it in app.extensions."""

    store: Store
    recorder: "Recorder"
    signers: Signers


def current() -> Opentrack:
    """Return the current app's Opentrack."""
    return current_app.extensions["opentrack"]


def store() -> Store:
    """Return the current app's store."""
    return current().store
