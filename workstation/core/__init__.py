"""The review core: pure Python, no Qt, no DuckDB, no llama_cpp, no I/O but template files.

- `model`: the records (Session, Node, Version, Chain, Annotation, Flag, Reviewer, TagVocabulary),
  each with `to_dict`/`from_dict`.
- `tree`: `Tree`, one session's nodes with read-only queries (paths, alternatives, shown and
  preferred branches, each reviewer's current annotation).
- `ops`: every change as an operation; `ops.apply(tree, op)` checks, applies and returns the
  reverse operation and what changed.
- `history`: `History` turns operations into `Event`s (uuid, reviewer, role, time), with undo and
  redo as new events, `rollback` when storing fails, and `replay` from the event log.
- `build`: makes operations (ids, versions, checks) from what a user or the engine supplied.
- `splitter`: raw model text to steps, also while streaming.
- `prompts`: prompt templates (TOML files) and the chat messages for generate, regenerate,
  continue and challenge.
- `checks`: automated flags on a step (arithmetic, Python syntax, confidence, repetition).

A use case reads like this::

    history, applied = History.start(build.start_session(question, t.name, t.version, me), me)
    prompt = prompts.generate_prompt(t, question)       # -> engine
    steps = splitter.split(raw)                          # or a StreamSplitter while streaming
    applied = history.apply(build.steps_added(history.tree, history.tree.question_id, raw,
                                              steps, me, t.name, t.version), me)
    store.record(history.tree, applied)                  # on failure: history.rollback()
"""
