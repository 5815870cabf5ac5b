"""What exports and statistics read: the trees of some sessions and facts beside them.

A `ReviewSet` holds session trees plus what a tree alone does not say: which annotations are
adjudications (only the event log knows; the tree stores them as plain annotations) and the
engine's record of each chain's model (file name, SHA-256). Build one from a store with
`ReviewSet.from_store`, or from trees and event dicts with `ReviewSet.from_trees`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workstation.core.model import Node, Version
from workstation.core.prompts import PromptTemplate
from workstation.core.tree import CHAIN_NODE_KINDS, Tree

if TYPE_CHECKING:
    from workstation.store import Store

#: What ends a stepwise prompt and follows each step (trl<=1.13's PRMTrainer appends its
#: `step_separator`, "\n" by default, after every completion; the prompt must end with it).
DEFAULT_SEPARATOR = "\n"

#: The event type of a reviewer's chain outcome (`core.ops.outcomes.ChainOutcomeSet`).
CHAIN_OUTCOME_EVENT = "chain_outcome_set"


@dataclass(frozen=True)
class ModelInfo:
    """The model behind a chain: its file name and, when the engine recorded it, SHA-256."""

    name: str
    sha256: str | None = None
    size: int | None = None
    #: Whether the model file carries a chat template (None: the file is not on this machine).
    chat_template: bool | None = None


@dataclass
class ReviewSet:
    """Session trees to export or measure, with adjudications and models beside them."""

    trees: list[Tree]
    #: Annotation id -> ids of the annotations it settles, for every adjudication.
    adjudications: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Chain id -> the model that produced it.
    models: dict[str, ModelInfo] = field(default_factory=dict)
    #: Prompt templates by name: the system prompt and user message a chain was generated with.
    templates: dict[str, PromptTemplate] = field(default_factory=dict)
    #: Chain id -> the reviewer's outcome for it (`workstation outcome`), latest event wins.
    outcomes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_trees(
        cls,
        trees: Iterable[Tree],
        events: Iterable[Mapping[str, object]] = (),
        models: Mapping[str, ModelInfo] | None = None,
    ) -> ReviewSet:
        """A set of trees; `events` (event dicts) tell which annotations are adjudications."""
        trees = list(trees)
        found = dict(models or {})
        for tree in trees:
            for chain in tree.chains.values():
                found.setdefault(chain.id, ModelInfo(chain.model))
        events = list(events)
        return cls(trees, adjudications_from_events(events), found, outcomes=outcomes_from_events(events))

    @classmethod
    def from_store(cls, store: Store, session_ids: Sequence[str] | None = None) -> ReviewSet:
        """The sessions of a `workstation.store.Store` (every one not deleted when `session_ids` is
        None)."""
        if session_ids is None:
            session_ids = [s.id for s in store.list_sessions()]
        trees = [store.load_session(sid) for sid in session_ids]
        # Only adjudications matter here: the store reads those alone, not every event.
        events = [e.to_dict() for sid in session_ids
                  for e in store.events(sid, types=("adjudicated", CHAIN_OUTCOME_EVENT))]
        models: dict[str, ModelInfo] = {}
        for tree in trees:
            for chain in tree.chains.values():
                generation = store.generation(chain.id)
                if generation is not None:
                    models[chain.id] = ModelInfo(
                        generation.model_file or chain.model, generation.model_sha256, generation.model_size
                    )
        return cls.from_trees(trees, events, models)

    def model_of(self, tree: Tree, node: Node) -> str:
        """The model name of the chain a node belongs to ("" for typed text)."""
        if node.chain_id is None:
            return ""
        info = self.models.get(node.chain_id)
        if info is not None and info.name:
            return info.name
        chain = tree.chains.get(node.chain_id)
        return chain.model if chain is not None else ""


def _payload(event: Mapping[str, object]) -> Mapping[str, object]:
    """An event dict's payload ({} where it has none)."""
    payload = event.get("payload")
    return payload if isinstance(payload, Mapping) else {}


def adjudications_from_events(events: Iterable[Mapping[str, object]]) -> dict[str, tuple[str, ...]]:
    """Annotation id -> settled ids, for every `adjudicated` event among `events` (event dicts)."""
    found: dict[str, tuple[str, ...]] = {}
    for event in events:
        if event.get("type") == "adjudicated":
            payload = _payload(event)
            annotation = payload.get("annotation")
            settles = payload.get("settles") or ()
            if isinstance(annotation, Mapping) and "id" in annotation and isinstance(settles, (list, tuple)):
                found[annotation["id"]] = tuple(settles)
    return found


def outcomes_from_events(events: Iterable[Mapping[str, object]]) -> dict[str, str]:
    """Chain id -> its latest outcome, from `chain_outcome_set` events (a cleared one is left out)."""
    found: dict[str, str] = {}
    for event in events:
        if event.get("type") == CHAIN_OUTCOME_EVENT:
            payload = _payload(event)
            chain_id, outcome = payload.get("chain_id"), payload.get("outcome")
            if isinstance(chain_id, str):
                if isinstance(outcome, str) and outcome:
                    found[chain_id] = outcome
                else:
                    found.pop(chain_id, None)
    return found


def chain_steps(path: Sequence[Node]) -> list[Node]:
    """The steps and answer of a path from the question (the question itself left out)."""
    return [n for n in path if n.kind in CHAIN_NODE_KINDS]


def live_chain_nodes(tree: Tree) -> list[Node]:
    """Every step and answer not in a deleted branch, in creation order."""
    return [n for n in tree.nodes.values() if n.kind in CHAIN_NODE_KINDS and not n.deleted]


def model_version(node: Node) -> Version:
    """The model's own text of a node: its first version with origin 'model' (else the first)."""
    for version in node.versions:
        if version.origin == "model":
            return version
    return node.versions[0]


#: Row shapes of the preference and KTO files (TRL's dataset formats).
STYLES = ("conversational", "standard")
#: Which branches path-based exports (trl-stepwise, prm800k) follow.
BRANCHES = ("preferred", "all")
#: What trl-stepwise does with a chain that has an unlabelled or tied step.
PARTIALS = ("truncate", "drop")

#: Standard style: the question ends with this line break; the steps follow as the model wrote
#: them (their exact spans end with the model's own line breaks).
QUESTION_END = "\n"


def laid_out(node: Node, version: Version) -> str:
    """A version's text as the model wrote it: a model version's exact span; a rewrite inside
    the blank space of the model's original (as `core.prompts.prompt_text` lays out prompts)."""
    if version.origin == "model":
        return version.raw
    original = model_version(node)
    if original.origin == "model" and original.text and original.text in original.raw:
        at = original.raw.index(original.text)
        return original.raw[:at] + version.text + original.raw[at + len(original.text):]
    return version.text + "\n\n"


def own_chain_text(tree: Tree, node: Node) -> str:
    """What the model wrote from `node` to the end of the generation that produced it: the
    model's own spans, never a reviewer's rewrite, never another generation's steps."""
    chain = tree.chains.get(node.chain_id or "")
    if chain is None or node.id not in chain.node_ids:
        return laid_out(node, model_version(node))
    ids = chain.node_ids[chain.node_ids.index(node.id):]
    return "".join(model_version(tree.nodes[i]).raw for i in ids if i in tree.nodes)


def first_child(tree: Tree, parent_id: str) -> Node | None:
    """The oldest live alternative below `parent_id` (what stands in where nobody preferred one)."""
    kids = tree.children(parent_id, CHAIN_NODE_KINDS)
    return kids[0] if kids else None


def exported_paths(tree: Tree, branch: str = "preferred") -> tuple[list[list[Node]], bool]:
    """The chain nodes of each exported branch, from step 1, and whether the oldest alternative
    stood in for a preference nobody marked (a fork without one).

    `preferred`: one path, the preferred alternative at every fork, else the oldest: the same
    whatever the user last viewed. `all`: every path from the question to a last step.
    """
    if branch == "all":
        paths: list[list[Node]] = []
        stack: list[list[Node]] = [[]]
        while stack:
            path = stack.pop()
            kids = tree.children(path[-1].id if path else tree.question_id, CHAIN_NODE_KINDS)
            if not kids:
                if path:
                    paths.append(path)
                continue
            stack.extend([*path, kid] for kid in reversed(kids))
        return paths, False
    path = []
    stood_in = False
    parent_id = tree.question_id
    while True:
        chosen = tree.preferred_child(parent_id)
        if chosen is None:
            chosen = first_child(tree, parent_id)
            if chosen is not None and len(tree.children(parent_id, CHAIN_NODE_KINDS)) > 1:
                stood_in = True
        if chosen is None:
            return ([path] if path else []), stood_in
        path.append(chosen)
        parent_id = chosen.id


class Context:
    """What precedes a step in one tree, in a file's style, memoized per node.

    - standard: the prompt is plain text, the question, `QUESTION_END`, then the earlier steps
      as the model wrote them, up to the last visible character; a completion starts with the
      blank space that follows (the line breaks) and is the step as the model wrote it.
    - conversational: the prompt is the chain's system and user messages (its prompt template);
      a completion is one assistant message holding the earlier steps and then the step, so the
      chat template renders exactly the turn the model continued. (TRL 1.16 renders a prompt that
      ends in an assistant message as a closed turn plus a new header, which the model never saw;
      in a pair the shared earlier steps cancel out of DPO's log-ratio.)
    """

    def __init__(self, tree: Tree, reviews: ReviewSet, style: str = "standard") -> None:
        self.tree = tree
        self.reviews = reviews
        self.style = style
        self._assistant: dict[str, str] = {tree.question_id: ""}
        self._messages: dict[str, list[dict[str, str]]] = {}
        #: Names of prompt templates this app does not know (their chains get the question alone).
        self.missing_templates: set[str] = set()
        #: (name, version) of the prompt templates whose messages rows carry.
        self.used_templates: set[tuple[str, str]] = set()

    def assistant_through(self, node_id: str) -> str:
        """The assistant's text from step 1 down to `node_id` included (current versions)."""
        memo = self._assistant
        pending = []
        current: str | None = node_id
        while current is not None and current not in memo:
            pending.append(current)
            current = self.tree.nodes[current].parent_id
        text = memo[current] if current is not None else ""
        for nid in reversed(pending):
            node = self.tree.nodes[nid]
            if node.kind in CHAIN_NODE_KINDS:
                if text and not text[-1].isspace():
                    text += "\n"  # a rewrite laid out without the model's blank space
                text += laid_out(node, node.current)
            memo[nid] = text
        return memo[node_id]

    def before(self, node: Node) -> str:
        """The assistant's text before `node` (its earlier steps)."""
        return self.assistant_through(node.parent_id) if node.parent_id is not None else ""

    def _standard(self, node: Node) -> tuple[str, str]:
        """(prompt, blank): the plain text before `node` cut at its last visible character, and
        the blank space after it, which starts every completion (BPE tokenizers join blank space
        to the word after it, so a prompt ending in blank space is not a token prefix)."""
        text = self.tree.question.text + QUESTION_END + self.before(node)
        prompt = text.rstrip()
        return prompt, text[len(prompt):] or "\n"

    def standard_prompt(self, node: Node) -> str:
        """The plain-text prompt of `node`: question and earlier steps, up to the last visible character."""
        return self._standard(node)[0]

    def messages(self, node: Node) -> list[dict[str, str]]:
        """The system and user messages the chain of `node` was generated with."""
        name = self.tree.session.template_name
        chain = self.tree.chains.get(node.chain_id or "")
        if chain is not None and chain.template_name:
            name = chain.template_name
        if name not in self._messages:
            template = self.reviews.templates.get(name)
            question = self.tree.session.question or self.tree.question.text
            if template is None:
                self.missing_templates.add(name)
                self._messages[name] = [{"role": "user", "content": question}]
            else:
                self.used_templates.add((template.name, template.version))
                out = [{"role": "system", "content": template.system}] if template.system else []
                out.append({"role": "user", "content": template.user_message(question)})
                self._messages[name] = out
        return [dict(m) for m in self._messages[name]]

    def prompt(self, node: Node) -> str | list[dict[str, str]]:
        """The prompt field of a row about `node`."""
        if self.style == "conversational":
            return self.messages(node)
        return self.standard_prompt(node)

    def completion(self, node: Node, text: str) -> str | list[dict[str, str]]:
        """A completion field: `text` (the step or continuation as written) after `node`'s prompt."""
        if self.style == "conversational":
            return [{"role": "assistant", "content": self.before(node) + text}]
        blank = self._standard(node)[1]
        return text if text[:1].isspace() else blank + text


def continuation(tree: Tree, node: Node) -> list[Node]:
    """`node` and the branch below it, following preferred (else shown) alternatives."""
    out = [node]
    while True:
        nxt = tree.preferred_child(out[-1].id) or tree.shown_child(out[-1].id)
        if nxt is None:
            return out
        out.append(nxt)
