-- Governance: users and their roles, API tokens and web sessions (stored hashed only), grants,
-- access requests, the audit log, login throttling and API ingest jobs.

CREATE SEQUENCE users_id_seq;
CREATE TABLE users (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('users_id_seq'),
    username            VARCHAR NOT NULL UNIQUE,
    display_name        VARCHAR NOT NULL DEFAULT '',
    email               VARCHAR,
    password_hash       VARCHAR,               -- argon2id, PHC string; NULL: token-only account
    is_platform_admin   BOOLEAN NOT NULL DEFAULT false,
    is_demo             BOOLEAN NOT NULL DEFAULT false,
    disabled_at         TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    user_id     BIGINT NOT NULL REFERENCES users (id),
    org_id      BIGINT NOT NULL REFERENCES organisations (id),
    role        VARCHAR NOT NULL CHECK (role IN ('admin', 'publisher', 'analyst', 'viewer')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, org_id)
);

-- A token reads `eb_<prefix>_<secret>`; only the SHA-256 of the whole string is kept.
CREATE SEQUENCE api_tokens_id_seq;
CREATE TABLE api_tokens (
    id          BIGINT PRIMARY KEY DEFAULT nextval('api_tokens_id_seq'),
    prefix      VARCHAR NOT NULL UNIQUE,
    sha256      VARCHAR NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    name        VARCHAR NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

CREATE TABLE sessions (
    sha256      VARCHAR PRIMARY KEY,           -- of the cookie's random value
    user_id     BIGINT NOT NULL REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

-- A grant opens one dataset to one organisation or to every organisation of one country,
-- whatever the dataset's visibility or embargo; `precise` also lifts coordinate generalisation.
CREATE SEQUENCE grants_id_seq;
CREATE TABLE grants (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('grants_id_seq'),
    dataset_id          BIGINT NOT NULL REFERENCES datasets (id),
    grantee_org_id      BIGINT REFERENCES organisations (id),
    grantee_country     VARCHAR CHECK (grantee_country IS NULL OR length(grantee_country) = 3),
    precise             BOOLEAN NOT NULL DEFAULT false,
    ends_at             TIMESTAMPTZ,
    created_by          BIGINT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    access_request_id   BIGINT,
    CHECK ((grantee_org_id IS NULL) <> (grantee_country IS NULL))
);

CREATE SEQUENCE access_requests_id_seq;
CREATE TABLE access_requests (
    id              BIGINT PRIMARY KEY DEFAULT nextval('access_requests_id_seq'),
    dataset_id      BIGINT NOT NULL REFERENCES datasets (id),
    user_id         BIGINT NOT NULL REFERENCES users (id),
    org_id          BIGINT NOT NULL REFERENCES organisations (id),   -- the grant goes here
    purpose         VARCHAR NOT NULL,
    status          VARCHAR NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'declined')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_at      TIMESTAMPTZ,
    decided_by      BIGINT,
    decision_note   VARCHAR,
    grant_id        BIGINT
);

-- One row per dataset per read by someone outside the owning organisation.
CREATE SEQUENCE audit_events_id_seq;
CREATE TABLE audit_events (
    id              BIGINT PRIMARY KEY DEFAULT nextval('audit_events_id_seq'),
    read_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    user_id         BIGINT,                -- NULL: anonymous
    username        VARCHAR,
    reader_org_ids  BIGINT[],
    dataset_id      BIGINT NOT NULL,
    owner_org_id    BIGINT NOT NULL,
    kind            VARCHAR NOT NULL,      -- what was read: observations, things, export, ...
    record_count    BIGINT NOT NULL        -- records returned by the request
);

CREATE TABLE login_attempts (
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    username    VARCHAR NOT NULL,
    address     VARCHAR NOT NULL,
    success     BOOLEAN NOT NULL
);

CREATE TABLE ingest_jobs (
    id              VARCHAR PRIMARY KEY,   -- random, so job ids cannot be guessed
    dataset_id      BIGINT NOT NULL,
    user_id         BIGINT,
    file_name       VARCHAR NOT NULL,
    kind            VARCHAR,
    status          VARCHAR NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_id          BIGINT,
    report          JSON,
    error           VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ
);
