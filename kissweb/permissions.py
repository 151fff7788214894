"""Who may do what: the one permission policy. Views, serializers, services and templates ask it; none re-states it.

The rule, in one table (`RULES`): every signed-in, active person reads the whole library; a movie, its
segments and its analyses are changed or deleted by staff or the person who uploaded it; an annotation by staff
or its author; an export by staff or who requested it; a background run is seen and cancelled by staff, who asked for
it, or who owns what it works on (a movie's uploader, an export's requester); scene types, model files, training and
activation are staff's. Anonymous people may do nothing here (the login and health endpoints are open by their own views).

How to use it
-------------
- A view that needs an object::

      movie = selectors.movie_get(movie_id=movie_id)
      permissions.require(user=request.user, action=permissions.CHANGE, subject=movie)   # errors.NotAllowed

- A view whose rule needs no object (create, train, activate)::

      permission_classes = [permissions.Allowed(permissions.TRAIN, "scene_type")]

  For "any signed-in person" the default permission class (`SignedIn`, settings.REST_FRAMEWORK) is enough.
- An output field (`can_edit`) or a row from `.values()`::

      permissions.allows(user=user, action=permissions.CHANGE, subject=Subject("movie", owner_id=row["uploaded_by_id"]))

- Templates: `{% if policy.scene_type.train %}` (the `policy` context processor).

A new kind of object: add its row to `RULES` (and, for a model, its kind and owner to `_SUBJECTS`); the
permission-matrix test (tests/kissweb/test_permission_matrix.py) then checks every endpoint against this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from rest_framework.permissions import BasePermission

from kissweb import errors


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"
    EXPORT = "export"
    TRAIN = "train"
    ACTIVATE = "activate"


READ, CREATE, CHANGE, DELETE, EXPORT, TRAIN, ACTIVATE = Action


class Who(Enum):
    SIGNED_IN = "any signed-in person"
    OWNER = "staff or the owner"
    STAFF = "staff"


SIGNED_IN, OWNER, STAFF = Who.SIGNED_IN, Who.OWNER, Who.STAFF

# kind -> action -> who. An action missing from a kind's row is allowed to nobody.
RULES: dict[str, dict[Action, Who]] = {
    "movie": {READ: SIGNED_IN, CREATE: SIGNED_IN, CHANGE: OWNER, DELETE: OWNER, EXPORT: SIGNED_IN},
    # A segment belongs to its movie's uploader; adding a manual segment is a change of the movie.
    "segment": {READ: SIGNED_IN, CHANGE: OWNER, DELETE: OWNER, EXPORT: SIGNED_IN},
    # Anyone may label any movie (and confirm or reject a detection); only its author or staff change the label.
    "annotation": {READ: SIGNED_IN, CREATE: SIGNED_IN, CHANGE: OWNER, DELETE: OWNER},
    # An analysis belongs to its movie's uploader; "analyse again" is a change of the movie.
    "analysis": {READ: SIGNED_IN},
    "scene_type": {READ: SIGNED_IN, CREATE: STAFF, CHANGE: STAFF, DELETE: STAFF, TRAIN: STAFF, ACTIVATE: STAFF,
                   EXPORT: SIGNED_IN},
    # Model files run inside the worker: uploading, importing and activating them is staff's alone (and removing
    # the stored embeddings no model uses: DELETE).
    "model": {READ: SIGNED_IN, CREATE: STAFF, CHANGE: STAFF, DELETE: STAFF, ACTIVATE: STAFF, EXPORT: SIGNED_IN},
    "training_run": {READ: SIGNED_IN, CREATE: STAFF, CHANGE: STAFF},
    # Any background run (kissweb.jobs): staff, who asked for it, and the owner of what it works on (RUN_SUBJECTS)
    # see and cancel it. A movie's progress is part of the movie, which everyone reads.
    "run": {READ: OWNER, CHANGE: OWNER},
    "export": {READ: OWNER, CREATE: SIGNED_IN, CHANGE: OWNER, DELETE: OWNER},
    # Each person's own player settings (/api/me/...): there is no one else's to reach.
    "preferences": {READ: SIGNED_IN, CHANGE: SIGNED_IN},
}

# How the refusals read: (noun, what the owner did).
_NOUNS: dict[str, tuple[str, str]] = {
    "movie": ("movie", "uploaded"), "segment": ("movie", "uploaded"), "annotation": ("annotation", "made"),
    "analysis": ("movie", "uploaded"), "scene_type": ("scene type", ""), "model": ("model file", ""),
    "training_run": ("training run", ""), "run": ("run", "asked for"), "export": ("export", "requested"),
    "preferences": ("preference", ""),
}
# Who else owns a kind, for the refusal's sentence.
_ALSO_OWNED_BY = {"run": "the owner of the movie or export it works on"}
_VERBS = {
    READ: "see", CREATE: "add", CHANGE: "change", DELETE: "delete", EXPORT: "export", TRAIN: "train",
    ACTIVATE: "activate",
}


@dataclass(frozen=True)
class Subject:
    """What an action is on: a kind from RULES and, for owned kinds, the owner's user id (and, for a run, the user id
    of whoever owns what it works on)."""

    kind: str
    owner_id: int | None = None
    subject_owner_id: int | None = None

    def owned_by(self, user_id) -> bool:
        return user_id is not None and user_id in (self.owner_id, self.subject_owner_id)


def _owner(*path: str) -> Callable[[Any], int | None]:
    def get(obj: Any) -> int | None:
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj

    return get


# Model label -> (kind, owner id getter).
_SUBJECTS: dict[str, tuple[str, Callable[[Any], int | None]]] = {
    "library.Movie": ("movie", _owner("uploaded_by_id")),
    "library.Segment": ("segment", _owner("movie", "uploaded_by_id")),
    "library.Annotation": ("annotation", _owner("author_id")),
    "analysis.Analysis": ("analysis", _owner("movie", "uploaded_by_id")),
    "library.SceneType": ("scene_type", _owner()),
    "analysis.ModelVersion": ("model", _owner()),
    "training.TrainingRun": ("training_run", _owner()),
    "jobs.Run": ("run", _owner("requested_by_id")),
    "exports.Export": ("export", _owner("requested_by_id")),
}
# A run's subject_type -> the model its subject_id names (owned by whoever owns that row, as _SUBJECTS says).
RUN_SUBJECTS: dict[str, str] = {"movie": "library.Movie", "export": "exports.Export"}


def _run_subject_owner(run: Any) -> int | None:
    """The owner of what a run works on (one query), or None (a scene type's runs, a deleted subject)."""
    from django.apps import apps

    label = RUN_SUBJECTS.get(run.subject_type)
    if label is None:
        return None
    _, owner = _SUBJECTS[label]
    row = apps.get_model(label).objects.filter(pk=run.subject_id).first()
    return owner(row) if row is not None else None


def subject_of(obj: Any) -> Subject:
    """The Subject of a model instance, a Subject, or a kind name (for actions that need no object)."""
    if isinstance(obj, Subject):
        return obj
    if isinstance(obj, str):
        if obj not in RULES:
            raise KeyError(f"No permission rule for the kind {obj!r}; add it to kissweb.permissions.RULES.")
        return Subject(obj)
    label = obj._meta.label
    if label not in _SUBJECTS:
        raise KeyError(f"No permission rule for {label}; add it to kissweb.permissions._SUBJECTS and RULES.")
    kind, owner = _SUBJECTS[label]
    if OWNER not in RULES[kind].values():
        return Subject(kind)
    return Subject(kind, owner(obj), _run_subject_owner(obj) if kind == "run" else None)


def _signed_in(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def allows(*, user, action: Action, subject: Any) -> bool:
    """Whether `user` may do `action` on `subject` (a model instance, a Subject, or a kind name)."""
    if not _signed_in(user):
        return False
    subject = subject_of(subject)
    who = RULES[subject.kind].get(Action(action))
    if who is SIGNED_IN:
        return True
    if who is STAFF:
        return bool(user.is_staff)
    if who is OWNER:
        return bool(user.is_staff or subject.owned_by(user.pk))
    return False


def refusal(*, action: Action, subject: Any) -> str:
    """The sentence that says who may do this."""
    subject = subject_of(subject)
    action = Action(action)
    noun, owner_did = _NOUNS.get(subject.kind, (subject.kind.replace("_", " "), "created"))
    verb = _VERBS[action]
    who = RULES[subject.kind].get(action)
    if who is OWNER:
        also = f", {_ALSO_OWNED_BY[subject.kind]}" if subject.kind in _ALSO_OWNED_BY else ""
        return f"Only the person who {owner_did} this {noun}{also}, or staff, can {verb} it."
    if who is STAFF:
        return f"Only staff can {verb} {noun}s."
    if who is SIGNED_IN:
        return "Sign in first."
    return f"Nobody can {verb} a {noun}."


def require(*, user, action: Action, subject: Any) -> None:
    """Raise errors.NotAllowed (403) with `refusal`'s sentence unless `allows`."""
    if not allows(user=user, action=action, subject=subject):
        raise errors.NotAllowed(refusal(action=action, subject=subject))


def require_if_person(*, user, action: Action, subject: Any) -> None:
    """`require` in a service that both people and the app itself call. `user` None is the app itself: a management
    command, or a run carrying out what a person was allowed to ask for when they asked. Views always pass the
    person (request.user), so a refusal there never depends on the view's own permission class alone."""
    if user is not None:
        require(user=user, action=action, subject=subject)


# --- DRF ----------------------------------------------------------------------------------------------------


class SignedIn(BasePermission):
    """The default for every API view: a signed-in, active person (401/403 otherwise, as DRF decides)."""

    def has_permission(self, request, view) -> bool:
        return _signed_in(request.user)


def Allowed(action: Action, kind: str) -> type[BasePermission]:  # noqa: N802 - used like a class
    """A permission class for a view whose rule needs no object: `permission_classes = [Allowed(TRAIN, "scene_type")]`."""
    action = Action(action)
    subject_of(kind)  # fail at import for an unknown kind

    class _Allowed(BasePermission):
        message = refusal(action=action, subject=kind)
        policy = (action, kind)

        def has_permission(self, request, view) -> bool:
            return allows(user=request.user, action=action, subject=kind)

    _Allowed.__name__ = f"Allowed_{action}_{kind}"
    return _Allowed


def ReadOr(action: Action, kind: str) -> type[BasePermission]:  # noqa: N802
    """Safe methods for any signed-in person; the others need `action` on `kind` (e.g. staff-only changes)."""
    from rest_framework.permissions import SAFE_METHODS

    write = Allowed(action, kind)

    class _ReadOr(BasePermission):
        message = write.message

        def has_permission(self, request, view) -> bool:
            if request.method in SAFE_METHODS:
                return allows(user=request.user, action=READ, subject=kind)
            return write().has_permission(request, view)

    _ReadOr.__name__ = f"ReadOr_{action}_{kind}"
    return _ReadOr


# --- templates ----------------------------------------------------------------------------------------------


def policy(request) -> dict:
    """Context processor: `policy.<kind>.<action>` for actions that need no object (what a page may offer)."""
    user = getattr(request, "user", None)
    return {
        "policy": {
            kind: {action.value: allows(user=user, action=action, subject=kind) for action in actions
                   if actions[action] is not OWNER}
            for kind, actions in RULES.items()
        }
    }
