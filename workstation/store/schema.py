"""The tables, as each released schema version created them.

A released version's statements are frozen: `migrations.py` replays them to create a new
database and to upgrade old ones, and tests/store/fixtures/ keeps a file written by each.

The tables mirror `workstation.core.model` field for field (a test checks it), so a session
is restored exactly. Times are kept as the ISO strings the core made them, because ids are
hashed from those strings and must come back byte for byte. `ord` columns record creation
order (one counter across tables), which the tree's dicts and its parents-first rule need.
"""

from __future__ import annotations

V1: tuple[str, ...] = (
    """
    CREATE TABLE schema_version (
        version     INTEGER PRIMARY KEY,
        applied_at  TIMESTAMP NOT NULL,
        app_version VARCHAR NOT NULL
    )
    """,
    """
    CREATE TABLE reviewers (
        id          VARCHAR PRIMARY KEY,
        name        VARCHAR NOT NULL,
        role        VARCHAR NOT NULL,
        public_key  VARCHAR,
        created_at  VARCHAR NOT NULL
    )
    """,
    """
    CREATE TABLE sessions (
        id               VARCHAR PRIMARY KEY,
        ord              BIGINT NOT NULL,
        title            VARCHAR NOT NULL,
        question         VARCHAR NOT NULL,
        template_name    VARCHAR NOT NULL,
        template_version VARCHAR NOT NULL,
        created_at       VARCHAR NOT NULL,
        reviewer_id      VARCHAR NOT NULL,
        role             VARCHAR NOT NULL,
        question_id      VARCHAR NOT NULL
    )
    """,
    # Question, steps, answer, challenges and replies are all nodes; `deleted` hides a branch.
    """
    CREATE TABLE nodes (
        id                 VARCHAR PRIMARY KEY,
        session_id         VARCHAR NOT NULL,
        ord                BIGINT NOT NULL,
        kind               VARCHAR NOT NULL,
        parent_id          VARCHAR,
        chain_id           VARCHAR,
        position           INTEGER NOT NULL,
        current_version_id VARCHAR NOT NULL,
        deleted            BOOLEAN NOT NULL
    )
    """,
    """
    CREATE TABLE versions (
        id             VARCHAR PRIMARY KEY,
        node_id        VARCHAR NOT NULL,
        session_id     VARCHAR NOT NULL,
        idx            INTEGER NOT NULL,
        text           VARCHAR NOT NULL,
        raw            VARCHAR NOT NULL,
        origin         VARCHAR NOT NULL,
        author         VARCHAR NOT NULL,
        role           VARCHAR NOT NULL,
        created_at     VARCHAR NOT NULL,
        mean_logprob   DOUBLE,
        min_token_prob DOUBLE,
        token_count    INTEGER
    )
    """,
    """
    CREATE TABLE flags (
        version_id VARCHAR NOT NULL,
        node_id    VARCHAR NOT NULL,
        session_id VARCHAR NOT NULL,
        idx        INTEGER NOT NULL,
        check_name VARCHAR NOT NULL,
        message    VARCHAR NOT NULL,
        span_start INTEGER NOT NULL,
        span_end   INTEGER NOT NULL,
        severity   VARCHAR NOT NULL,
        PRIMARY KEY (version_id, idx)
    )
    """,
    """
    CREATE TABLE chains (
        id               VARCHAR PRIMARY KEY,
        session_id       VARCHAR NOT NULL,
        ord              BIGINT NOT NULL,
        parent_id        VARCHAR NOT NULL,
        kind             VARCHAR NOT NULL,
        raw_text         VARCHAR NOT NULL,
        splitter_name    VARCHAR NOT NULL,
        splitter_version VARCHAR NOT NULL,
        template_name    VARCHAR NOT NULL,
        template_version VARCHAR NOT NULL,
        author           VARCHAR NOT NULL,
        role             VARCHAR NOT NULL,
        created_at       VARCHAR NOT NULL,
        node_ids         VARCHAR[] NOT NULL,
        critique         VARCHAR,
        model            VARCHAR NOT NULL,
        finish_reason    VARCHAR NOT NULL
    )
    """,
    # The engine's record of the generation that produced a chain. The usual sampling
    # parameters have columns for queries; `sampling` keeps all of them as given.
    """
    CREATE TABLE generations (
        chain_id                VARCHAR PRIMARY KEY,
        session_id              VARCHAR NOT NULL,
        model_file              VARCHAR NOT NULL,
        model_size              BIGINT,
        model_sha256            VARCHAR,
        temperature             DOUBLE,
        top_p                   DOUBLE,
        top_k                   INTEGER,
        min_p                   DOUBLE,
        repeat_penalty          DOUBLE,
        max_tokens              INTEGER,
        seed                    BIGINT,
        sampling                JSON NOT NULL,
        prompt_tokens           INTEGER,
        prompt_tokens_evaluated INTEGER,
        completion_tokens       INTEGER,
        time_to_first_token_s   DOUBLE,
        tokens_per_s            DOUBLE,
        finish_reason           VARCHAR,
        step_confidence         JSON,
        extra                   JSON
    )
    """,
    # Never edited in place except `retracted` (undo); a newer annotation by the same
    # reviewer supersedes theirs, and other reviewers' annotations are never touched.
    """
    CREATE TABLE annotations (
        id          VARCHAR PRIMARY KEY,
        session_id  VARCHAR NOT NULL,
        ord         BIGINT NOT NULL,
        node_id     VARCHAR NOT NULL,
        version_id  VARCHAR NOT NULL,
        reviewer_id VARCHAR NOT NULL,
        role        VARCHAR NOT NULL,
        created_at  VARCHAR NOT NULL,
        label       TINYINT,
        note        VARCHAR NOT NULL,
        tags        VARCHAR[] NOT NULL,
        severity    VARCHAR,
        retracted   BOOLEAN NOT NULL
    )
    """,
    # Per parent node: which alternative is shown and which one a reviewer prefers.
    """
    CREATE TABLE branch_choices (
        session_id VARCHAR NOT NULL,
        parent_id  VARCHAR NOT NULL,
        choice     VARCHAR NOT NULL,
        child_id   VARCHAR NOT NULL,
        PRIMARY KEY (session_id, parent_id, choice)
    )
    """,
    """
    CREATE TABLE tags (
        tag VARCHAR PRIMARY KEY,
        ord BIGINT NOT NULL
    )
    """,
    # The audit trail: one row per operation, appended and never updated or deleted, even when
    # a branch is deleted from the tree. `seq` is this file's order; `id` is the event's own
    # unique id, kept across bundles; `hash` chains each row to the one before it, so an
    # edited or removed row is detectable (`Store.verify_events`).
    """
    CREATE TABLE events (
        seq         BIGINT PRIMARY KEY,
        id          VARCHAR NOT NULL UNIQUE,
        session_id  VARCHAR,
        created_at  VARCHAR NOT NULL,
        reviewer_id VARCHAR,
        role        VARCHAR,
        kind        VARCHAR NOT NULL,
        data        JSON NOT NULL,
        prev_hash   VARCHAR NOT NULL,
        hash        VARCHAR NOT NULL
    )
    """,
    # Challenges and the model's replies are nodes; these views name them for queries.
    """
    CREATE VIEW challenges AS
    SELECT n.id, n.session_id, n.parent_id AS step_id, n.position, v.text AS question,
           v.author, v.role, v.created_at, n.deleted
    FROM nodes n JOIN versions v ON v.id = n.current_version_id
    WHERE n.kind = 'challenge'
    """,
    """
    CREATE VIEW replies AS
    SELECT n.id, n.session_id, n.parent_id AS challenge_id, n.chain_id, v.text AS reply,
           v.created_at, n.deleted
    FROM nodes n JOIN versions v ON v.id = n.current_version_id
    WHERE n.kind = 'reply'
    """,
    "CREATE INDEX nodes_session ON nodes (session_id)",
    "CREATE INDEX versions_session ON versions (session_id)",
    "CREATE INDEX annotations_session ON annotations (session_id)",
    "CREATE INDEX events_session ON events (session_id)",
)

# v2: a deleted session stays in the file, hidden from lists and searches (`SessionDeleted`).
V2: tuple[str, ...] = (
    "ALTER TABLE sessions ADD COLUMN deleted BOOLEAN DEFAULT false",
)

# v3: the tokens of each model-written step version, for the token view (see store/tokens.py).
V3: tuple[str, ...] = (
    """
    CREATE TABLE step_tokens (
        version_id   VARCHAR PRIMARY KEY,
        session_id   VARCHAR NOT NULL,
        start_offset INTEGER NOT NULL,
        texts        VARCHAR[] NOT NULL,
        logprobs     FLOAT[] NOT NULL,
        top_texts    VARCHAR[][] NOT NULL,
        top_logprobs FLOAT[][] NOT NULL
    )
    """,
)
