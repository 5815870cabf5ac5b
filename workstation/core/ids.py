"""Identifiers: content-derived for things, random for actions.

Sessions, chains, nodes and versions get ids hashed from what they are, so that two databases
holding the same chain agree on its ids and bundles merge without translation tables. Events
and annotations are actions: each gets a fresh uuid so that two reviewers' actions never
collide. Hash ids are 16 hex digits (64 bits): collisions would need billions of steps.
"""

from __future__ import annotations

import hashlib
import uuid

ID_LENGTH = 16


def content_id(kind: str, *parts: object) -> str:
    """A stable id for `kind` made of `parts` (joined unambiguously, then SHA-256, truncated)."""
    digest = hashlib.sha256()
    digest.update(kind.encode())
    for part in parts:
        # Length-prefixing keeps ("ab", "c") and ("a", "bc") apart.
        data = str(part).encode("utf-8", "surrogatepass")
        digest.update(b"\x00%d:" % len(data))
        digest.update(data)
    return digest.hexdigest()[:ID_LENGTH]


def event_id() -> str:
    """A new unique id for an event or an annotation (uuid4, 32 hex digits)."""
    return uuid.uuid4().hex


def session_id(question: str, reviewer_id: str, created_at: str) -> str:
    """The id of a session started by `reviewer_id` at `created_at` on `question`."""
    return content_id("session", question, reviewer_id, created_at)


def question_node_id(session_id_: str) -> str:
    """The id of a session's question node (one per session)."""
    return content_id("question", session_id_)


def chain_id(session_id_: str, parent_id: str, raw_text: str, created_at: str) -> str:
    """The id of a chain of model output hanging from `parent_id`.

    The time is part of it because a seeded regeneration can produce the very same text
    twice, and each regeneration is still its own branch.
    """
    return content_id("chain", session_id_, parent_id, created_at, raw_text)


def node_id(chain_id_: str, position: int, raw: str) -> str:
    """The id of the node at `position` in a chain, made of its exact raw text."""
    return content_id("node", chain_id_, position, raw)


def version_id(node_id_: str, origin: str, author: str, created_at: str, text: str) -> str:
    """The id of one version of a node."""
    return content_id("version", node_id_, origin, author, created_at, text)
