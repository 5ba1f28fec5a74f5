"""Commits of other controller processes, turned into what a local commit does.

A local commit runs the database's after-commit hooks with the kinds of events it appended (`ports.Commit`): the
long-polls wake, the route reconciler runs when routes moved, the BGP peer sync when peers changed. Another
process's commit arrives only as a revision (its NOTIFY, `hubnet.server.db.listen`); this reads the kinds of the
events since the last one handled and runs the same hooks. Notifications coalesce: one read covers every commit up
to the current revision, and a notification already covered costs nothing more. This process's own commits are
seen here too: their hooks then run twice, which is harmless (every hook coalesces).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence

from hubnet.server.services.context import Controller
from hubnet.server.services.ports import Commit, UnitOfWork

log = logging.getLogger("hubnet.server")
READ_LIMIT = 2000  # events read per catch-up; when more came, every kind in `assume` is taken to be among them


class RemoteCommits:
    """Call `catch_up()` after (re)connecting the listener and `notified(revision)` per notification; both from one
    thread (the listener's)."""

    def __init__(
        self,
        ctl: Controller,
        hooks: Sequence[Callable[[Commit], None]],
        *,
        wake: Callable[[], None],
        assume: Collection[str] = (),
    ) -> None:
        self.ctl, self.hooks, self.wake, self.assume = ctl, list(hooks), wake, frozenset(assume)
        self.last: int | None = None  # every event up to this revision was handled

    def notified(self, revision: int | None) -> None:
        if revision is not None and self.last is not None and revision <= self.last:
            return  # covered by an earlier read
        self.catch_up()

    def catch_up(self) -> None:
        """Wake the long-polls, and run the hooks for the events committed since the last call (at the first call:
        none, only the current revision is learnt)."""
        if not self.hooks:
            self.wake()
            return
        since = self.last
        revision, kinds, more = self.ctl.read(lambda uow: _kinds_since(uow, since))
        self.last = revision
        # Woken after the read: a long-poll that re-reads now sees every commit up to `revision`, which is what lets
        # a later notification of a revision up to it be skipped.
        self.wake()
        if since is None or revision <= since:
            return
        commit = Commit(revision, kinds | self.assume if more else kinds)
        for hook in self.hooks:
            hook(commit)


def _kinds_since(uow: UnitOfWork, since: int | None) -> tuple[int, frozenset[str], bool]:
    """(current revision, the kinds of the events after `since` up to it, whether there were more than read)."""
    revision = uow.repo.revision()  # the counter first: every event up to it is committed (services.events)
    if since is None or revision <= since:
        return revision, frozenset(), False
    found = uow.repo.events_since(since, READ_LIMIT, upto=revision)
    return revision, frozenset(e.type for e in found), len(found) == READ_LIMIT
