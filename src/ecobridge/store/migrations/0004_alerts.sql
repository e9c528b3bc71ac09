-- Alerts: rules, alerts and their events, incidents, subscriptions and the delivery outbox.
-- See docs/alerts.md. Severity: info, minor, moderate, severe, extreme.

-- A rule is data: its kind, its parameters (JSON, validated by alerts.models) and its scope.
-- Rules are never edited, only added and removed (soft delete: alerts keep their rule).
CREATE SEQUENCE alert_rules_id_seq;
CREATE TABLE alert_rules (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('alert_rules_id_seq'),
    name                VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL CHECK (kind IN ('threshold', 'aqi', 'rate_of_change',
                            'anomaly', 'silence', 'qc_burst')),
    params              JSON NOT NULL,
    severity            VARCHAR NOT NULL CHECK (severity IN ('info', 'minor', 'moderate',
                            'severe', 'extreme')),
    description         VARCHAR NOT NULL DEFAULT '',
    -- scope: NULL means any
    dataset_id          BIGINT,
    observed_property   VARCHAR,
    area_id             BIGINT,
    thing_id            BIGINT,
    created_by          BIGINT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at          TIMESTAMPTZ
);

-- An incident groups alerts close in time and space; what it shows is computed from the
-- alerts a reader may see, so the row holds nothing else.
CREATE SEQUENCE incidents_id_seq;
CREATE TABLE incidents (
    id          BIGINT PRIMARY KEY DEFAULT nextval('incidents_id_seq'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One alert per episode of a rule's condition on one datastream (or station, for silence).
-- Times are phenomenon times of the data; geom is the station's precise position, read only
-- through governance.location_sql.
CREATE SEQUENCE alerts_id_seq;
CREATE TABLE alerts (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('alerts_id_seq'),
    rule_id             BIGINT NOT NULL,
    dataset_id          BIGINT NOT NULL,
    thing_id            BIGINT NOT NULL,
    datastream_id       BIGINT,
    observed_property   VARCHAR,
    incident_id         BIGINT,
    status              VARCHAR NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    resolution          VARCHAR CHECK (resolution IN ('auto', 'manual', 'retracted')),
    severity            VARCHAR NOT NULL,
    started_at          TIMESTAMPTZ NOT NULL,
    last_seen_at        TIMESTAMPTZ NOT NULL,
    ended_at            TIMESTAMPTZ,
    points              INTEGER NOT NULL,
    peak_value          DOUBLE,
    peak_at             TIMESTAMPTZ,
    last_value          DOUBLE,
    threshold           DOUBLE,
    unit                VARCHAR,
    detail              JSON,
    geom                GEOMETRY NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged_at     TIMESTAMPTZ,
    acknowledged_by     BIGINT,
    resolved_at         TIMESTAMPTZ,
    resolved_by         BIGINT,
    note                VARCHAR
);

-- Every change of an alert: what the SSE feed streams and what subscriptions are matched on.
CREATE SEQUENCE alert_events_id_seq;
CREATE TABLE alert_events (
    id          BIGINT PRIMARY KEY DEFAULT nextval('alert_events_id_seq'),
    alert_id    BIGINT NOT NULL,
    dataset_id  BIGINT NOT NULL,
    kind        VARCHAR NOT NULL CHECK (kind IN ('opened', 'updated', 'escalated', 'resolved',
                    'reopened', 'retracted', 'acknowledged')),
    severity    VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    user_id     BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A user's subscription. url NULL: no webhook (read the feeds). The webhook secret is kept in
-- clear because it signs every delivery (HMAC); it is shown to its owner once.
CREATE SEQUENCE subscriptions_id_seq;
CREATE TABLE subscriptions (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('subscriptions_id_seq'),
    user_id             BIGINT NOT NULL,
    name                VARCHAR NOT NULL DEFAULT '',
    area                GEOMETRY,                  -- area of interest, WGS 84; NULL: anywhere
    dataset_id          BIGINT,
    observed_property   VARCHAR,
    min_severity        VARCHAR NOT NULL DEFAULT 'minor',
    kinds               VARCHAR[] NOT NULL DEFAULT ['opened', 'escalated', 'resolved'],
    url                 VARCHAR,
    secret              VARCHAR,
    cooldown_s          INTEGER NOT NULL DEFAULT 3600,
    failures            INTEGER NOT NULL DEFAULT 0,  -- consecutive failed attempts ...
    retry_at            TIMESTAMPTZ,                 -- ... and when the receiver is tried again
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at          TIMESTAMPTZ
);

-- The durable outbox: one row per (event, subscription), written in the transaction that made
-- the event. The delivery worker marks each attempt's result in one statement.
CREATE SEQUENCE outbox_id_seq;
CREATE TABLE outbox (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('outbox_id_seq'),
    subscription_id     BIGINT NOT NULL,
    event_id            BIGINT NOT NULL,
    alert_id            BIGINT NOT NULL,
    incident_id         BIGINT,
    idempotency_key     VARCHAR NOT NULL,
    body                VARCHAR NOT NULL,
    severity            VARCHAR NOT NULL,
    event_time          TIMESTAMPTZ NOT NULL,      -- phenomenon time, for the cooldown
    status              VARCHAR NOT NULL CHECK (status IN ('pending', 'delivered', 'suppressed',
                            'dropped', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_status         INTEGER,
    last_error          VARCHAR,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at        TIMESTAMPTZ
);
